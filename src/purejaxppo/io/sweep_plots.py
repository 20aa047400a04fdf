"""Sweep figures: top settings' learning curves, return vs one field, a two-field heatmap."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.io import plots
from purejaxppo.io.plots import _new_figure, learning_curve_figure

FINAL_LABEL = "final return (mean over seeds)"
TOP = 5  # settings drawn in a sweep's learning-curve figure


def _save(fig: Any, path: str | Path) -> Path:
    return plots.save_figure(fig, path)  # format from the suffix: .png, .pdf or .svg


def _label(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value).replace(" ", "")


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def setting_key(text: Any) -> str:
    """A setting id as text, the same in results.csv and metrics.csv (`"3"` for 3, 3.0, "3")."""
    text = str(text).strip()
    try:
        return str(int(float(text)))
    except ValueError:
        return text


def read_sweep_metrics(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Reads a sweep folder's `metrics.csv`: a run folder's layout (`seed, update, env_steps`,
    then the metrics) with a leading `setting` column (the setting index of `results.csv`).

    Returns:
        setting id (`setting_key`) -> name -> `[seeds, updates]` floats, NaN for blanks and for
        updates a seed has not logged; empty when the file has no rows.

    Raises:
        ConfigError: the file has no `setting`, `seed` or `update` column.
    """
    from purejaxppo.config import ConfigError

    with open(path, newline="") as handle:
        text = handle.read()
    reader = csv.DictReader(text[: text.rfind("\n") + 1].splitlines())  # drops a cut-off line
    if not {"setting", "seed", "update"} <= set(reader.fieldnames or ()):
        raise ConfigError(f"{path} needs setting, seed and update columns; is it a sweep's file?")
    groups: dict[str, list[dict[str, str]]] = {}
    for row in reader:
        groups.setdefault(setting_key(row["setting"]), []).append(row)
    out = {}
    for key, rows in groups.items():
        seeds = {s: i for i, s in enumerate(sorted({int(r["seed"]) for r in rows}))}
        shape = (len(seeds), max(int(r["update"]) for r in rows))
        arrays = {n: np.full(shape, np.nan) for n in rows[0] if n != "setting"}
        for r in rows:
            at = seeds[int(r["seed"])], int(r["update"]) - 1
            for name, array in arrays.items():
                array[at] = float(r[name]) if r[name] not in ("", None) else np.nan
        out[key] = arrays
    return out


def _category_ticks(ax: Any, labels: Sequence[str]) -> None:
    """One x tick per category; slanted when many or long, so neighbours never overlap."""
    slant = len(labels) > 5 or sum(map(len, labels)) > 40
    ax.set_xticks(
        range(len(labels)), labels, rotation=30 if slant else 0, ha="right" if slant else "center"
    )


def setting_label(setting: dict[str, Any], fields: Sequence[str]) -> str:
    """`"lr=0.001, ent_coef=0"` for the swept `fields` of one setting."""
    return ", ".join(f"{f}={_label(setting.get(f))}" for f in fields) or "base config"


def ranked_runs(
    settings: Sequence[dict[str, Any]],
    fields: Sequence[str],
    means: Sequence[float],
    metrics: Sequence[Mapping[str, np.ndarray] | None],
    top: int = TOP,
) -> list[tuple[str, Mapping[str, np.ndarray]]]:
    """(label, metrics) of the `top` settings by mean final return, best first, for
    `learning_curve_figure`; settings whose `metrics` is None are skipped.

    Returns:
        Up to `top` pairs labelled `"#1 lr=0.001"` (the rank among all settings).
    """
    from purejaxppo.sweep_results import rank_order

    order = [int(i) for i in rank_order(np.asarray(means, dtype=np.float64))]
    runs = [
        (f"#{r + 1} {setting_label(settings[i], fields)}", metrics[i])
        for r, i in enumerate(order)
        if metrics[i] is not None
    ]
    return runs[:top]


def top_curves_title(shown: int, total: int) -> str:
    """`"top 5 of 12 settings of the sweep"`, or `"all 3 settings of the sweep"`."""
    return f"top {shown} of {total} settings" if shown < total else f"all {total} settings"


def plot_top_curves(result: Any, path: str | Path, top: int = TOP, smooth: int = 0) -> Path:
    """Learning curves of the `top` ranked settings of a `SweepResult` (mean over seeds and a
    bootstrap band, see `learning_curve_figure`), with the base config's reference return.

    Returns:
        The path written.
    """
    means = result.statistics()["mean"]
    runs = ranked_runs(result.settings, result.swept_fields, means, result.metrics, top)
    title = top_curves_title(len(runs), len(result.settings)) + " of the sweep"
    reference = result.config.reference_return
    return _save(
        learning_curve_figure(runs, title, smooth=smooth, reference_return=reference), path
    )


def plot_return_vs_value(
    field: str,
    values: Sequence[Any],
    mean: np.ndarray,
    ci_low: np.ndarray,
    ci_high: np.ndarray,
    path: str | Path,
) -> Path:
    """Final return (points, 95% bootstrap interval bars) against one swept field's `[settings]`
    values; log x axis for positive values spanning more than a decade, categories if not numeric.
    """
    fig, ax = _new_figure((6, 4))
    mean, low, high = (np.asarray(a, dtype=np.float64) for a in (mean, ci_low, ci_high))
    if _numeric(values):
        x = np.asarray(values, dtype=np.float64)
        positive = np.all(x > 0)
        if positive and x.max() / x.min() > 10:
            ax.set_xscale("log")
    else:
        labels = list(dict.fromkeys(_label(v) for v in values))
        x = np.array([labels.index(_label(v)) for v in values], dtype=np.float64)
        _category_ticks(ax, labels)
    yerr = np.nan_to_num(np.stack([mean - low, high - mean]))
    ax.errorbar(x, mean, yerr=yerr if yerr.any() else None, fmt="o", capsize=3)
    ax.set_xlabel(field)
    ax.set_ylabel(FINAL_LABEL)
    bars = "bars: 95% bootstrap CI of the mean over seeds" if yerr.any() else "1 seed, no bars"
    ax.set_title(f"final return vs {field}\n{bars}", fontsize=10)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_heatmap(
    fields: tuple[str, str],
    settings: Sequence[dict[str, Any]],
    mean: np.ndarray,
    path: str | Path,
) -> Path:
    """Mean final return over two swept fields: a cell per (x, y) value pair (blank if a pair was
    not swept; the mean of repeated pairs), annotated with the number."""
    fx, fy = fields
    xs = list(dict.fromkeys(_label(s.get(fx)) for s in settings))
    ys = list(dict.fromkeys(_label(s.get(fy)) for s in settings))
    if _numeric([s.get(fx) for s in settings]):
        xs.sort(key=float)
    if _numeric([s.get(fy) for s in settings]):
        ys.sort(key=float)
    total = np.zeros((len(ys), len(xs)))
    count = np.zeros((len(ys), len(xs)))
    for s, m in zip(settings, np.asarray(mean, dtype=np.float64), strict=True):
        if np.isfinite(m):
            cell = ys.index(_label(s.get(fy))), xs.index(_label(s.get(fx)))
            total[cell] += m
            count[cell] += 1
    grid = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    if grid.size > 2 * len(settings) and _numeric([s.get(f) for s in settings for f in fields]):
        return _scatter(fields, settings, mean, path)  # random samples: no grid to fill
    fig, ax = _new_figure((1.2 * len(xs) + 3, 0.6 * len(ys) + 2.5))
    image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap="viridis")
    for (row, col), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(col, row, f"{value:.1f}", ha="center", va="center", color="w", fontsize=8)
    _category_ticks(ax, xs)
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel(fx)
    ax.set_ylabel(fy)
    fig.colorbar(image, ax=ax, label=FINAL_LABEL)
    ax.set_title("mean final return")
    return _save(fig, path)


def _scatter(fields: tuple[str, str], settings: Sequence[dict[str, Any]], mean, path) -> Path:
    fig, ax = _new_figure((6, 4.5))
    x, y = (np.array([s[f] for s in settings], dtype=np.float64) for f in fields)
    points = ax.scatter(x, y, c=np.asarray(mean, dtype=np.float64), cmap="viridis", s=40)
    for axis, values in (("x", x), ("y", y)):
        if np.all(values > 0) and values.max() / values.min() > 10:
            getattr(ax, f"set_{axis}scale")("log")
    ax.set_xlabel(fields[0])
    ax.set_ylabel(fields[1])
    fig.colorbar(points, ax=ax, label=FINAL_LABEL)
    ax.set_title("mean final return of each sampled setting")
    return _save(fig, path)


def plot_final_returns(
    fields: Sequence[str],
    settings: Sequence[dict[str, Any]],
    mean: np.ndarray,
    ci_low: np.ndarray,
    ci_high: np.ndarray,
    path: str | Path,
) -> Path:
    """The sweep's final-return figure: return vs value for one swept field, a heatmap of the
    first two fields otherwise. `mean`, `ci_low`, `ci_high` are `[settings]`."""
    if len(fields) == 1:
        values = [s.get(fields[0]) for s in settings]
        return plot_return_vs_value(fields[0], values, mean, ci_low, ci_high, path)
    if len(fields) >= 2:
        return plot_heatmap((fields[0], fields[1]), settings, mean, path)
    raise ValueError("a sweep with no swept field has no final-return figure")


def write_sweep_plots(result: Any, out: str | Path, top: int = 5) -> list[Path]:
    """Writes `learning_curves.png`, and `return_vs_<field>.png` (one swept field) or
    `heatmap.png` (two or more: the first two) into `out`. Returns the paths written."""
    out = Path(out)
    stats, fields = result.statistics(), result.swept_fields
    paths = [plot_top_curves(result, out / "learning_curves.png", top)]
    if fields:
        name = f"return_vs_{fields[0]}.png" if len(fields) == 1 else "heatmap.png"
        paths.append(
            plot_final_returns(
                fields,
                result.settings,
                stats["mean"],
                stats["ci_low"],
                stats["ci_high"],
                out / name,
            )
        )
    return paths
