"""Learning-curve figures (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.io.files import atomic_write_bytes
from purejaxppo.stats import bootstrap_mean_interval

BOOTSTRAP_SAMPLES = 2000
BAND_LEVEL = 0.95
BAND_ALPHA = 0.25
MAX_X_TICKS = 6  # env-step ticks per axis: few enough that "1.25M" labels never touch
RETURN_METRICS = ("episode_return", "eval_return")  # metrics the reference return applies to
EVAL_METRIC = "eval_return"


def bootstrap_band(
    values: np.ndarray, level: float = BAND_LEVEL, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean across seeds and a percentile-bootstrap confidence band of that mean, NaNs ignored
    (`purejaxppo.stats.bootstrap_mean_interval`: one set of seed draws for every column).

    Args:
        values: `[seeds, T]` (or `[seeds]`).
        level: coverage of the band (0.95: the 2.5 and 97.5 percentiles).

    Returns:
        (mean, low, high), each `[T]` (or `[]`); low == high == mean for one seed.
    """
    return bootstrap_mean_interval(values, level, samples, seed)


def smooth_curves(values: np.ndarray, smooth: int = 0) -> np.ndarray:
    """Each seed's curve as plotted: a trailing mean over its last `smooth` finite values.

    At update u the value is the mean of the seed's last `max(smooth, 1)` finite values at or
    before u (fewer at the start). NaN entries (an update with no finished episode, or without
    an evaluation) are skipped, not counted, so `smooth` 0 or 1 carries the last value forward.

    Args:
        values: `[seeds, updates]` (or `[updates]`) raw metric values, NaN where none was logged.
        smooth: window length in logged values; 0 or 1: no smoothing.

    Returns:
        `[seeds, updates]` floats; NaN before a seed's first finite value.
    """
    x = np.atleast_2d(np.asarray(values, dtype=np.float64))
    window = max(1, int(smooth))
    out = np.full(x.shape, np.nan)
    for s, row in enumerate(x):
        where = np.flatnonzero(np.isfinite(row))
        if where.size == 0:
            continue
        total = np.concatenate([[0.0], np.cumsum(row[where])])
        k = np.arange(1, where.size + 1)
        means = (total[k] - total[np.maximum(k - window, 0)]) / np.minimum(k, window)
        seen = np.searchsorted(where, np.arange(row.size), side="right")  # finite values so far
        out[s] = np.where(seen > 0, means[np.maximum(seen - 1, 0)], np.nan)
    return out


def curve(
    metrics: Mapping[str, np.ndarray], metric: str, smooth: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The points of one run's curve: `smooth_curves`, then mean and bootstrap band over seeds.

    Only updates at which at least one seed logged a value are kept, so a metric logged every
    few updates (evaluation) is drawn as its evaluated points joined.

    Returns:
        (env_steps, mean, low, high), each `[points]`.
    """
    raw = np.atleast_2d(np.asarray(metrics[metric], dtype=np.float64))
    steps = np.nanmax(np.atleast_2d(np.asarray(metrics["env_steps"], dtype=np.float64)), axis=0)
    keep = np.isfinite(raw).any(axis=0)
    mean, low, high = bootstrap_band(smooth_curves(raw, smooth)[:, keep])
    return steps[keep], mean, low, high


def si_label(value: float, _pos: Any = None) -> str:
    """`200k`, `1.5M`, `2G`: an env-step count with an SI suffix (3 significant digits)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def format_steps_axis(ax: Any, axis: str = "x") -> None:
    """Env-step ticks on `ax`: at most `MAX_X_TICKS` round values labelled `si_label` style."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(nbins=MAX_X_TICKS, steps=[1, 2, 2.5, 5, 10]))
    target.set_major_formatter(FuncFormatter(si_label))


def legend_outside(ax: Any) -> Any:
    """The axes' legend to the right of the data area (the figure needs constrained layout).

    Returns:
        The `Legend`, or None when nothing is labelled.
    """
    if not ax.get_legend_handles_labels()[0]:
        return None
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8)


def band_caption(seed_counts: Iterable[int], smooth: int = 0, level: float = BAND_LEVEL) -> str:
    """What a curve and its band are, for the title: `"mean over 4 seeds, band: 95% bootstrap
    CI of the mean"`, `"1 seed, no band"`, and a line for the smoothing window if there is one."""
    counts = sorted(set(seed_counts))
    pct = f"{level:.0%}"
    if counts and counts[0] > 1:
        seeds = f"{counts[0]} seeds" if len(counts) == 1 else "seeds (n in legend)"
        text = f"mean over {seeds}, band: {pct} bootstrap CI of the mean"
    elif counts and counts[-1] > 1:
        text = f"mean over seeds (n in legend); band for n > 1: {pct} bootstrap CI of the mean"
    else:
        text = "1 seed, no band"
    if smooth > 1:
        text += f"\neach seed smoothed: mean of its last {smooth} logged values"
    return text


def _new_figure(figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A figure and axes without pyplot: no global backend switch, nothing left open."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=110, layout="constrained")
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


def _draw(ax: Any, points: tuple, label: str, color: Any = None, **style: Any) -> Any:
    steps, mean, low, high = points
    (line,) = ax.plot(steps, mean, label=label, color=color, **style)
    if not np.array_equal(low, high, equal_nan=True):  # one seed: low == high, no band
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=BAND_ALPHA, linewidth=0)
    return line


def _references(value: float | Sequence[float] | None) -> list[float]:
    values = [] if value is None else [value] if np.isscalar(value) else list(value)
    return sorted({float(v) for v in values if v is not None and np.isfinite(v)})


def _reference_lines(ax: Any, values: Sequence[float]) -> None:
    """Dashed black lines at `values`, kept off the axes' edge."""
    for value in values:
        ax.axhline(
            value, color="k", linestyle="--", linewidth=1, label=f"reference return {value:g}"
        )
    if values:
        low, high = ax.get_ylim()
        pad = 0.05 * (max(high, *values) - min(low, *values) or 1.0)
        ax.set_ylim(min(low, min(values) - pad), max(high, max(values) + pad))


def learning_curve_figure(
    runs: Sequence[tuple[str, Mapping[str, np.ndarray]]],
    title: str = "",
    metric: str = "episode_return",
    smooth: int = 0,
    reference_return: float | Sequence[float] | None = None,
    evaluation: bool = True,
) -> Any:
    """Mean `metric` across seeds (line) and its 95% bootstrap band vs env steps, runs overlaid.

    Each seed's curve is `smooth_curves(values, smooth)`; the band is the percentile-bootstrap
    interval of the mean over seeds (`bootstrap_band`), drawn only for runs with 2+ seeds, and
    the title's second line says so. When `metric` is `episode_return` and a run has a finite
    `eval_return`, that curve is drawn too (dotted, with markers, labelled "evaluation"). For
    `episode_return` or `eval_return`, each `reference_return` is a dashed black line.

    Args:
        runs: (label, metrics) pairs; metrics hold `metric` and `env_steps`, `[seeds, updates]`.
        title: first title line (default: the metric's name).
        smooth: trailing window of `smooth_curves`, in logged values (0: none).
        reference_return: the config's `reference_return` (or several, one line each), or None.
        evaluation: whether `episode_return` figures also draw `eval_return` where it exists.

    Returns:
        The matplotlib `Figure`; the legend sits right of the axes.
    """
    if smooth < 0:
        raise ValueError(f"smooth must be 0 (off) or a window length >= 1, got {smooth}")
    fig, ax = _new_figure((9, 4.2))
    name = metric.replace("_", " ")
    for label, metrics in runs:
        n = np.atleast_2d(np.asarray(metrics[metric])).shape[0]
        tag = f"{label} ({n} seed{'s' if n > 1 else ''})"
        line = _draw(ax, curve(metrics, metric, smooth), tag)
        evals = np.asarray(metrics.get(EVAL_METRIC, np.nan), dtype=np.float64)
        if evaluation and metric == "episode_return" and np.isfinite(evals).any():
            eval_tag = "evaluation" if len(runs) == 1 else f"{label} evaluation"
            eval_style = {"linestyle": ":", "marker": "o", "markersize": 3}
            _draw(ax, curve(metrics, EVAL_METRIC, smooth), eval_tag, line.get_color(), **eval_style)
    if metric in RETURN_METRICS:
        _reference_lines(ax, _references(reference_return))
    ax.set_xlabel("environment steps")
    ax.set_ylabel(name)
    format_steps_axis(ax)
    caption = band_caption((np.atleast_2d(m[metric]).shape[0] for _, m in runs), smooth)
    ax.set_title(f"{title or name}\n{caption}", fontsize=10)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return fig


def plot_learning_curves(
    runs: Sequence[tuple[str, Mapping[str, np.ndarray]]],
    path: str | Path,
    title: str = "",
    smooth: int = 0,
    reference_return: float | Sequence[float] | None = None,
    metric: str = "episode_return",
) -> Path:
    """Draws `learning_curve_figure(runs, title, metric, smooth, reference_return)` into `path`.

    Returns:
        The path written.
    """
    return save_figure(learning_curve_figure(runs, title, metric, smooth, reference_return), path)
