"""An adapter module whose family package is missing, as an uninstalled extra looks."""

import not_an_installed_family_package  # noqa: F401
