"""The `purejaxppo` command line; each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from purejaxppo.cli.common import EXIT_INTERRUPTED, EXIT_USAGE

SUBCOMMANDS = ("train",)  # modules under purejaxppo.cli, each with add_parser(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="purejaxppo", description="PPO in one compiled JAX program, many seeds at once."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"purejaxppo.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `purejaxppo` script; returns the process exit code (2: bad input)."""
    import purejaxppo  # noqa: F401 - applies the XLA flag before JAX starts
    from purejaxppo.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
