"""`purejaxppo plot`: learning curves of run folders, or a sweep folder's final-return figure or
its settings' learning curves."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.cli.common import check_output_file

DEFAULT_METRIC = "episode_return"
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
        "--metric",
        default=None,
        help="metrics.csv column to draw (default episode_return); for a sweep folder, draws it "
        "per setting from the sweep's metrics.csv instead of the final-return figure",
    )
    p.add_argument(
        "--smooth",
        type=int,
        default=0,
        metavar="N",
        help="plot each seed's trailing mean of its last N logged values (updates with no value "
        "skipped); 0 = off. The metrics files are not changed",
    )
    p.add_argument(
        "--top", type=int, default=5, help="settings drawn in a sweep's curves (best first)"
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


def _columns(metrics: dict, path: Path, metric: str) -> None:
    """Raises ConfigError unless `metric` is a column of `metrics` with a logged value."""
    from purejaxppo.config import ConfigError
    from purejaxppo.loading import did_you_mean

    names = [n for n in metrics if n not in ("seed", "update", "setting", "env_steps")]
    if metric not in names:
        raise ConfigError(
            f"--metric {metric!r} is not a column of {path}{did_you_mean(metric, names)} "
            f"(choose from {', '.join(names)})"
        )
    if not np.isfinite(np.asarray(metrics[metric], dtype=np.float64)).any():
        hint = " (the run did not evaluate: set eval_every)" if metric.startswith("eval_") else ""
        raise ConfigError(f"--metric {metric!r} has no logged value in {path}{hint}")


def _run_metrics(folder: Path, metric: str) -> dict:
    from purejaxppo.config import ConfigError
    from purejaxppo.io.files import METRICS_FILE, read_metrics_csv

    path = folder / METRICS_FILE
    if not path.is_file():
        raise ConfigError(f"{folder} has no {METRICS_FILE} (nor {RESULTS_FILE}); pass a run folder")
    metrics = read_metrics_csv(path)
    if not metrics:
        raise ConfigError(f"{path} has no rows yet; plot it once an update is logged")
    _columns(metrics, path, metric)
    return metrics


def _reference(folder: Path) -> float | None:
    """The `reference_return` of a run folder's config.yaml or a sweep folder's sweep.yaml."""
    import sys

    import yaml

    from purejaxppo.config import ConfigError
    from purejaxppo.export import run_config

    try:
        if (folder / "config.yaml").is_file():
            return run_config(folder).reference_return
        if (folder / "sweep.yaml").is_file():
            data = yaml.safe_load((folder / "sweep.yaml").read_text()) or {}
            return (data.get("config") or {}).get("reference_return")
    except (ConfigError, OSError, yaml.YAMLError, AttributeError) as error:
        print(f"note: no reference line, {folder}'s config is unreadable: {error}", file=sys.stderr)
    return None


def _sweep_figure(folder: Path, args: argparse.Namespace) -> Any:
    """The final-return figure (no --metric nor --smooth; or only the default --metric where the
    sweep has no metrics.csv) or the per-setting curves. Returns a function of the out path."""
    from purejaxppo.config import ConfigError
    from purejaxppo.io.files import METRICS_FILE
    from purejaxppo.io.sweep_plots import (
        plot_final_returns,
        ranked_runs,
        read_sweep_metrics,
        setting_key,
        top_curves_title,
    )
    from purejaxppo.sweep_results import bootstrap_ci

    settings, fields = read_sweep_results(folder / RESULTS_FILE)
    finals = [np.asarray(s["final_returns"], np.float64) for s in settings]
    mean = np.array([np.nanmean(f) if np.isfinite(f).any() else np.nan for f in finals])
    path = folder / METRICS_FILE
    default = args.metric in (None, DEFAULT_METRIC) and not args.smooth
    if (args.metric is None and not args.smooth) or (default and not path.is_file()):
        if not fields:
            raise ConfigError(f"{folder} swept no field, so it has no final-return figure")
        low, high = np.array([bootstrap_ci(f) for f in finals]).T
        return lambda out: plot_final_returns(fields, settings, mean, low, high, out)
    metric = args.metric or DEFAULT_METRIC
    if not path.is_file():
        raise ConfigError(
            f"{folder} has no {METRICS_FILE} (a sweep from an older purejaxppo), so --metric and "
            f"--smooth have no curves to draw; rerun the sweep, or plot it without them"
        )
    by_setting = read_sweep_metrics(path)
    if not by_setting:
        raise ConfigError(f"{path} has no rows yet; plot it once an update is logged")
    _columns(next(iter(by_setting.values())), path, metric)
    curves = [by_setting.get(setting_key(s["setting"])) for s in settings]
    runs = ranked_runs(settings, fields, mean, curves, args.top)
    if not runs:
        raise ConfigError(f"no setting of {folder / RESULTS_FILE} has rows in {path}")
    title = args.title or f"{top_curves_title(len(runs), len(settings))} of {folder.name}"
    return _curves(runs, title, metric, args.smooth, [_reference(folder)], evaluation=False)


def _curves(runs: list, title: str, metric: str, smooth: int, refs: list, **kw: Any) -> Any:
    from purejaxppo.io.plots import learning_curve_figure, save_figure

    fig = learning_curve_figure(runs, title, metric, smooth, refs, **kw)
    return lambda out: save_figure(fig, out)


def run(args: argparse.Namespace) -> int:
    """Draws the figure and writes it to `--out`. Returns the exit code."""
    from purejaxppo.config import ConfigError

    folders = [Path(d) for d in args.dirs]
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError(f"{folder} is not a folder; pass run or sweep folders")
    out = (
        Path(args.out) if args.out else (folders[0] if len(folders) == 1 else Path()) / DEFAULT_OUT
    )
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ConfigError(f"--out {out}: use a .png, .pdf or .svg file name")
    if args.smooth < 0 or args.top < 1:
        raise ConfigError("--smooth must be 0 (off) or a window >= 1, and --top at least 1")
    check_output_file(out, "--out")
    sweeps = [f for f in folders if (f / RESULTS_FILE).is_file()]
    if sweeps and len(folders) > 1:
        raise ConfigError(f"{sweeps[0]} is a sweep folder; plot one sweep folder at a time")
    if sweeps:
        draw = _sweep_figure(sweeps[0], args)
    else:
        metric = args.metric or DEFAULT_METRIC
        runs = [
            (f.resolve().name if len(folders) == 1 else str(f), _run_metrics(f, metric))
            for f in folders
        ]
        draw = _curves(runs, args.title, metric, args.smooth, [_reference(f) for f in folders])
    print(f"wrote {draw(out)}")
    return 0
