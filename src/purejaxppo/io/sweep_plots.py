"""Sweep figures: top settings' learning curves, return vs one field, a two-field heatmap."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.io.plots import plot_learning_curves

FINAL_LABEL = "final return (mean over seeds)"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    from purejaxppo.io.plots import save_figure

    fig.tight_layout()
    try:
        return save_figure(fig, path)  # format from the suffix: .png, .pdf or .svg
    finally:
        _pyplot().close(fig)


def _label(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value).replace(" ", "")


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def setting_label(setting: dict[str, Any], fields: Sequence[str]) -> str:
    """`"lr=0.001, ent_coef=0"` for the swept `fields` of one setting."""
    return ", ".join(f"{f}={_label(setting.get(f))}" for f in fields) or "base config"


def plot_top_curves(result: Any, path: str | Path, top: int = 5) -> Path:
    """Learning curves (mean +/- std over seeds) of the `top` ranked settings of a `SweepResult`."""
    fields = result.swept_fields
    runs = [
        (f"#{r + 1} {setting_label(result.settings[i], fields)}", result.metrics[i])
        for r, i in enumerate(result.ranking()[:top])
    ]
    return plot_learning_curves(runs, path, title=f"top {len(runs)} settings of the sweep")


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
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    mean, low, high = (np.asarray(a, dtype=np.float64) for a in (mean, ci_low, ci_high))
    if _numeric(values):
        x = np.asarray(values, dtype=np.float64)
        positive = np.all(x > 0)
        if positive and x.max() / x.min() > 10:
            ax.set_xscale("log")
    else:
        labels = list(dict.fromkeys(_label(v) for v in values))
        x = np.array([labels.index(_label(v)) for v in values], dtype=np.float64)
        ax.set_xticks(range(len(labels)), labels)
    yerr = np.stack([mean - low, high - mean])
    ax.errorbar(x, mean, yerr=np.nan_to_num(yerr), fmt="o", capsize=3)
    ax.set_xlabel(field)
    ax.set_ylabel(FINAL_LABEL)
    ax.set_title(f"final return vs {field} (bars: 95% bootstrap CI)")
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
    plt = _pyplot()
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
    fig, ax = plt.subplots(figsize=(1.2 * len(xs) + 3, 0.6 * len(ys) + 2.5), dpi=110)
    image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap="viridis")
    for (row, col), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(col, row, f"{value:.1f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(len(xs)), xs, rotation=45 if len(xs) > 6 else 0)
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel(fx)
    ax.set_ylabel(fy)
    fig.colorbar(image, ax=ax, label=FINAL_LABEL)
    ax.set_title("mean final return")
    return _save(fig, path)


def _scatter(fields: tuple[str, str], settings: Sequence[dict[str, Any]], mean, path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
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
