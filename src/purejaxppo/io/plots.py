"""Learning-curve and sweep figures (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.io.files import atomic_write_bytes

BOOTSTRAP_SAMPLES = 2000


def _fill_forward(curve: np.ndarray) -> np.ndarray:
    """Carries the last finished-episode return over updates in which none finished."""
    out = np.array(curve, dtype=np.float64)
    for row in out.reshape(-1, out.shape[-1]):
        last = np.nan
        for i, value in enumerate(row):
            last = value if not np.isnan(value) else last
            row[i] = last
    return out


def bootstrap_band(
    values: np.ndarray, level: float = 0.95, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean across seeds and a percentile-bootstrap confidence band of that mean.

    Seeds are resampled with replacement `samples` times (the same resampling for every column,
    so the band is smooth along a curve); NaNs are ignored.

    Args:
        values: `[seeds, T]` (or `[seeds]`).
        level: coverage of the band (0.95: the 2.5 and 97.5 percentiles).

    Returns:
        (mean, low, high), each `[T]` (or `[]`); low == high == mean for one seed.
    """
    values = np.asarray(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        if values.shape[0] < 2:
            return mean, mean.copy(), mean.copy()
        index = np.random.default_rng(seed).integers(0, values.shape[0], (samples, values.shape[0]))
        means = np.nanmean(values[index], axis=1)  # [samples, T]
        tail = 100 * (1 - level) / 2
        low, high = np.nanpercentile(means, [tail, 100 - tail], axis=0)
    return mean, low, high


def _new_figure(figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A figure and axes without pyplot: no global backend switch, nothing left open."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=110)
    return fig, fig.subplots()


def save_figure(fig: Any, path: str | Path) -> Path:
    """Writes `fig` whole (temp file + rename); the format follows the suffix (.png, .pdf, .svg).

    Returns:
        The path written.
    """
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".").lower() or "png")
    return atomic_write_bytes(path, buffer.getvalue())


def learning_curve_figure(
    runs: Sequence[tuple[str, Mapping[str, np.ndarray]]],
    title: str = "",
    metric: str = "episode_return",
) -> Any:
    """Mean `metric` across seeds (line) and its 95% bootstrap band vs env steps, runs overlaid.

    Args:
        runs: (label, metrics) pairs; metrics hold `metric` and `env_steps`, `[seeds, updates]`.
            Updates in which no episode finished (NaN) carry the previous return forward.

    Returns:
        The matplotlib `Figure`.
    """
    fig, ax = _new_figure((7, 4.2))
    for label, metrics in runs:
        values = _fill_forward(np.asarray(metrics[metric], dtype=np.float64))
        steps = np.nanmax(np.asarray(metrics["env_steps"], dtype=np.float64), axis=0)
        mean, low, high = bootstrap_band(values)
        n = values.shape[0]
        (line,) = ax.plot(steps, mean, label=f"{label} ({n} seed{'s' if n > 1 else ''})")
        if n > 1:
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title or "learning curve (mean, 95% bootstrap CI across seeds)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def plot_learning_curves(
    runs: Sequence[tuple[str, Mapping[str, np.ndarray]]],
    path: str | Path,
    title: str = "",
) -> Path:
    """Draws `learning_curve_figure(runs, title)` into the image file `path`.

    Returns:
        The path written.
    """
    return save_figure(learning_curve_figure(runs, title), path)


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _label(row: Mapping[str, Any], fields: Sequence[str]) -> str:
    return ", ".join(f"{f}={_fmt(row[f])}" for f in fields) or f"setting {row['setting']}"


def sweep_figure(
    settings: Sequence[Mapping[str, Any]], fields: Sequence[str], title: str = ""
) -> Any:
    """Final return of every setting of a sweep, with a 95% bootstrap CI across its seeds.

    One numeric swept field: return vs value (log axis when the values span a factor >= 10),
    seeds as dots. Two fields: a heatmap of the mean. Otherwise: one row per setting, best on top.

    Args:
        settings: one dict per setting: `setting`, each of `fields` (float or text) and
            `final_returns` (`[seeds]` array).
        fields: the swept field names.

    Returns:
        The matplotlib `Figure`.
    """
    stats = [bootstrap_band(np.asarray(s["final_returns"], np.float64)) for s in settings]
    mean = np.array([m for m, _, _ in stats])
    numeric = all(isinstance(s[f], float) for s in settings for f in fields)
    if len(fields) == 2:
        xs, ys = (
            sorted({s[f] for s in settings}, key=str if not numeric else None) for f in fields
        )
        grid = np.full((len(ys), len(xs)), np.nan)
        for s, m in zip(settings, mean, strict=True):
            grid[ys.index(s[fields[1]]), xs.index(s[fields[0]])] = m
        fig, ax = _new_figure((1.2 * len(xs) + 3, 0.8 * len(ys) + 2.5))
        image = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto")
        fig.colorbar(image, ax=ax, label="mean final return")
        ax.set_xticks(range(len(xs)), [_fmt(x) for x in xs])
        ax.set_yticks(range(len(ys)), [_fmt(y) for y in ys])
        ax.set_xlabel(fields[0])
        ax.set_ylabel(fields[1])
        for (i, j), value in np.ndenumerate(grid):
            if not np.isnan(value):
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", color="w", fontsize=8)
    elif len(fields) == 1 and numeric:
        fig, ax = _new_figure((7, 4.2))
        order = np.argsort([float(s[fields[0]]) for s in settings])
        x = np.array([float(settings[i][fields[0]]) for i in order])
        low = np.array([stats[i][1] for i in order])
        high = np.array([stats[i][2] for i in order])
        ax.plot(x, mean[order], "o-", label="mean")
        ax.fill_between(x, low, high, alpha=0.25, linewidth=0, label="95% bootstrap CI")
        for i in order:
            seeds = np.asarray(settings[i]["final_returns"], np.float64)
            ax.plot(np.full(seeds.shape, float(settings[i][fields[0]])), seeds, ".", color="0.4")
        if x.min() > 0 and x.max() / x.min() >= 10:
            ax.set_xscale("log")
        ax.set_xlabel(fields[0])
        ax.set_ylabel("final return")
        ax.legend(loc="best")
    else:
        order = np.argsort(-np.nan_to_num(mean, nan=-np.inf))[::-1]
        fig, ax = _new_figure((7, 0.35 * len(settings) + 1.8))
        y = np.arange(len(order))
        low = mean[order] - np.array([stats[i][1] for i in order])
        high = np.array([stats[i][2] for i in order]) - mean[order]
        ax.errorbar(mean[order], y, xerr=[low, high], fmt="o", capsize=3)
        ax.set_yticks(y, [_label(settings[i], fields) for i in order])
        ax.set_xlabel("final return (mean, 95% bootstrap CI)")
    ax.set_title(title or "sweep: final return per setting")
    if len(fields) != 2:  # no grid lines over a heatmap
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
