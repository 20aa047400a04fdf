"""`purejaxppo plot`: learning curves of run folders, or the final-return plot of a sweep folder."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.cli.common import check_output_file

ORDER = 3
RESULTS_FILE = "results.csv"  # a sweep folder: one row per (setting, seed)
DEFAULT_OUT = "plot.png"
_SETTING_COLUMNS = ("setting", "setting_id")
_NOT_SWEPT = ("seed", "setting", "final_return", "rank", "ci95", "num_seeds", "iqm", "mean", "std")


def add_parser(subparsers) -> None:
    """Registers `plot` and its options."""
    p = subparsers.add_parser(
        "plot", help="learning curves of run folders (shared axes) or the plot of a sweep folder"
    )
    p.add_argument("dirs", nargs="+", metavar="RUN_DIR", help="run folders, or one sweep folder")
    p.add_argument(
        "--out",
        default=None,
        help=f"image to write, .png/.pdf/.svg (default RUN_DIR/{DEFAULT_OUT} for one folder, "
        f"./{DEFAULT_OUT} for several)",
    )
    p.add_argument(
        "--metric", default="episode_return", help="metrics.csv column to draw (run folders)"
    )
    p.add_argument("--title", default="", help="figure title")
    p.set_defaults(func=run)


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def read_sweep_results(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Reads a sweep's `results.csv` and gathers the final returns of each setting's seeds.

    Two layouts are read: the sweep command's table (one row per setting: `rank`, `setting`,
    the swept fields, `final_return_*` / `ci95_*` / `num_seeds` statistics, one `seed_<s>`
    column per seed) and a long table (one row per run: `setting`, the swept fields, `seed`,
    `final_return`). Swept fields are the other columns whose value differs between rows.

    Returns:
        (settings, swept field names); each setting is a dict with `setting`, the field values
        (floats where numeric) and `final_returns` (a list over its seeds, NaN for blanks).

    Raises:
        ConfigError: no rows, or neither `seed_<s>` columns nor `seed` and `final_return`.
    """
    from purejaxppo.config import ConfigError

    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(rows[0]) if rows else []
    seed_columns = [c for c in columns if c.startswith("seed_") and c[5:].lstrip("-").isdigit()]
    long_format = not seed_columns and {"seed", "final_return"} <= set(columns)
    if not rows or not (seed_columns or long_format):
        raise ConfigError(
            f"{path} has no runs, or neither seed_<s> columns nor seed and final_return; "
            "pass a sweep folder written by `purejaxppo sweep`"
        )
    fields = [c for c in columns if not c.startswith(_NOT_SWEPT) and len({r[c] for r in rows}) > 1]
    id_column = next((c for c in _SETTING_COLUMNS if c in columns), None)
    number = lambda text: float(text) if text not in ("", "nan") else math.nan  # noqa: E731
    settings: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r[id_column] if id_column else ",".join(r[f] for f in fields)
        entry = settings.setdefault(
            key, {"setting": key, **{f: _value(r[f]) for f in fields}, "final_returns": []}
        )
        if long_format:
            entry["final_returns"].append(number(r["final_return"]))
        else:
            entry["final_returns"] += [number(r[c]) for c in seed_columns]
    return list(settings.values()), fields


def _run_metrics(folder: Path) -> dict:
    from purejaxppo.config import ConfigError
    from purejaxppo.io.files import METRICS_FILE, read_metrics_csv

    path = folder / METRICS_FILE
    if not path.is_file():
        raise ConfigError(f"{folder} has no {METRICS_FILE} (nor {RESULTS_FILE}); pass a run folder")
    metrics = read_metrics_csv(path)
    if not metrics:
        raise ConfigError(f"{path} has no rows yet; plot it once an update is logged")
    return metrics


def run(args: argparse.Namespace) -> int:
    """Draws the figure and writes it to `--out`. Returns the exit code."""
    from purejaxppo.config import ConfigError
    from purejaxppo.io.plots import learning_curve_figure, save_figure
    from purejaxppo.io.sweep_plots import plot_final_returns
    from purejaxppo.sweep_results import bootstrap_ci

    folders = [Path(d) for d in args.dirs]
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError(f"{folder} is not a folder; pass run or sweep folders")
    out = (
        Path(args.out) if args.out else (folders[0] if len(folders) == 1 else Path()) / DEFAULT_OUT
    )
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ConfigError(f"--out {out}: use a .png, .pdf or .svg file name")
    check_output_file(out, "--out")
    sweeps = [f for f in folders if (f / RESULTS_FILE).is_file()]
    if sweeps and len(folders) > 1:
        raise ConfigError(f"{sweeps[0]} is a sweep folder; plot one sweep folder at a time")
    if sweeps:
        settings, fields = read_sweep_results(sweeps[0] / RESULTS_FILE)
        if not fields:
            raise ConfigError(f"{sweeps[0]} swept no field, so it has no final-return figure")
        finals = [np.asarray(s["final_returns"], np.float64) for s in settings]
        mean = np.array([np.nanmean(f) if np.isfinite(f).any() else np.nan for f in finals])
        low, high = np.array([bootstrap_ci(f) for f in finals]).T
        print(f"wrote {plot_final_returns(fields, settings, mean, low, high, out)}")
        return 0
    else:
        runs = []
        for folder in folders:
            metrics = _run_metrics(folder)
            if args.metric not in metrics:
                names = ", ".join(n for n in metrics if n not in ("seed", "update"))
                raise ConfigError(
                    f"--metric {args.metric!r} is not in {folder}; choose from {names}"
                )
            runs.append((folder.resolve().name if len(folders) == 1 else str(folder), metrics))
        fig = learning_curve_figure(runs, args.title, metric=args.metric)
    print(f"wrote {save_figure(fig, out)}")
    return 0
