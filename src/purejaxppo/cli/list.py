"""`purejaxppo list`: the shipped configs and the environment ids the trainer accepts."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

ORDER = 110  # after every other subcommand (plot has the default, 100)

NO_VALUE = "-"
CONFIG_COLUMNS = ("CONFIG", "ENV_ID", "TOTAL_TIMESTEPS", "REFERENCE_RETURN")


def add_parser(subparsers) -> None:
    """Registers `list configs` and `list envs`."""
    p = subparsers.add_parser("list", help="list the shipped configs or the environment ids")
    what = p.add_subparsers(dest="what", required=True, metavar="{configs,envs}")
    configs = what.add_parser("configs", help="shipped configs: env id, budget, reference return")
    configs.set_defaults(func=run_configs)
    envs = what.add_parser("envs", help="environment ids a config's env_id may name, sorted")
    envs.add_argument(
        "--family",
        default=None,
        help="list one family's ids instead (brax, navix, craftax, jumanji, xminigrid; its "
        "extra must be installed)",
    )
    envs.set_defaults(func=run_envs)


def config_rows() -> list[tuple[str, str, str, str]]:
    """One row per shipped config: (name, env_id, total_timesteps, reference_return or "-").

    Returns:
        The rows, in `available_configs()` order (sorted by name), every cell a string.
    """
    from purejaxppo.loading import available_configs, load_config

    rows = []
    for name in available_configs():
        config = load_config(name)
        reference = config.reference_return
        rows.append(
            (
                name,
                config.env_id,
                str(config.total_timesteps),
                NO_VALUE if reference is None else f"{reference:g}",
            )
        )
    return rows


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart, numbers (all but the first two) right-aligned.

    Returns:
        The header line then one line per row, trailing spaces stripped.
    """
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def run_configs(args: argparse.Namespace) -> int:
    """Prints the configs table. Returns the exit code."""
    for line in format_table(CONFIG_COLUMNS, config_rows()):
        print(line)
    return 0


def run_envs(args: argparse.Namespace) -> int:
    """Prints every environment id the trainer can make without a family prefix (or, with
    `--family`, that family's prefixed ids), one per line, then the families. Returns the exit
    code.

    Whether an id has discrete or continuous actions is not shown: finding out means building
    the environment, and some (gymnax's MNISTBandit-bsuite) download data when built.
    """
    from purejaxppo.envs import FAMILIES, registered_env_ids

    family = getattr(args, "family", None)
    for env_id in sorted(registered_env_ids(family)):
        print(env_id)
    if family is None:
        others = [f"{f.name} (e.g. {f.example})" for f in FAMILIES.values() if f.extra]
        print(f"# other families, as family:name: {', '.join(others)}; list one with --family")
    return 0
