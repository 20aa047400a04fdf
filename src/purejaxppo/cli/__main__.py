"""`python -m purejaxppo.cli` runs the command line."""

import sys

from purejaxppo.cli import main

sys.exit(main())
