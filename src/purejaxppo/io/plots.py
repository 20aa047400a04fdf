"""Learning-curve and sweep figures (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.io.files import atomic_write_bytes
from purejaxppo.stats import bootstrap_mean_interval

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
    """Mean across seeds and a percentile-bootstrap confidence band of that mean, NaNs ignored
    (`purejaxppo.stats.bootstrap_mean_interval`: one set of seed draws for every column).

    Args:
        values: `[seeds, T]` (or `[seeds]`).
        level: coverage of the band (0.95: the 2.5 and 97.5 percentiles).

    Returns:
        (mean, low, high), each `[T]` (or `[]`); low == high == mean for one seed.
    """
    return bootstrap_mean_interval(values, level, samples, seed)


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
