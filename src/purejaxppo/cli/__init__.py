"""The `purejaxppo` command line; each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from purejaxppo.cli.common import EXIT_INTERRUPTED, EXIT_STALLED, EXIT_USAGE, start_distributed


def subcommand_modules() -> list:
    """Every module of this package that defines `add_parser(subparsers)`, ordered by its
    `ORDER` (then name): adding a subcommand means adding one module, nothing else.

    Importing `cli.list` makes `list` an attribute of this package, shadowing the builtin in
    this module: don't call `list()` here.
    """
    import importlib
    import pkgutil

    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(module, "add_parser", None)):
            modules.append(module)
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from purejaxppo import __version__

    parser = argparse.ArgumentParser(
        prog="purejaxppo", description="PPO in one compiled JAX program, many seeds at once."
    )
    # argparse prints it and exits 0 while parsing, before any subcommand or JAX work
    parser.add_argument("--version", action="version", version=f"purejaxppo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in subcommand_modules():
        module.add_parser(sub)
    for command in sub.choices.values():  # every subcommand can see your environments/networks
        command.add_argument(
            "--import",
            dest="imports",
            action="append",
            default=[],
            metavar="MODULE",
            help="import MODULE first (repeatable; the current folder is searched), e.g. a "
            "module that calls purejaxppo.register_env; recorded in the run's config",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `purejaxppo` script; returns the process exit code (2: bad input, 3: a
    stuck program, 130/143: stopped by a signal)."""
    import purejaxppo  # noqa: F401 - applies the XLA flag before JAX starts
    from purejaxppo.compile_cache import enable_compile_cache
    from purejaxppo.config import ConfigError
    from purejaxppo.watchdog import StalledError, exit_hint

    args = build_parser().parse_args(argv)
    enable_compile_cache()  # a repeated command loads its programs instead of recompiling
    try:
        from purejaxppo.imports import run_imports

        run_imports(args.imports, "--import")
        start_distributed(args)
        return args.func(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)  # a compiled call may still run: a normal exit would wait
    except StalledError as error:
        print(f"error: {error}{exit_hint()}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(EXIT_STALLED)  # the stuck program would keep a normal exit waiting forever
    except Exception as error:
        from purejaxppo.distributed_watch import exit_after_peer_failure

        exit_after_peer_failure(error)  # a distributed run: a lost process, named in one line
        raise
