"""Learning-curve figures (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from purejaxppo.io.files import atomic_write_bytes


def _fill_forward(curve: np.ndarray) -> np.ndarray:
    """Carries the last finished-episode return over updates in which none finished."""
    out = np.array(curve, dtype=np.float64)
    for row in out.reshape(-1, out.shape[-1]):
        last = np.nan
        for i, value in enumerate(row):
            last = value if not np.isnan(value) else last
            row[i] = last
    return out


def plot_learning_curves(
    runs: Sequence[tuple[str, Mapping[str, np.ndarray]]],
    path: str | Path,
    title: str = "",
) -> Path:
    """Draws mean episode return (line) and mean +/- std across seeds (band) against env steps.

    Args:
        runs: (label, metrics) pairs; metrics hold `episode_return` and `env_steps`, `[seeds, updates]`.
        path: the PNG written (whole, via temp + rename).

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, metrics in runs:
        returns = _fill_forward(np.asarray(metrics["episode_return"], dtype=np.float64))
        steps = np.asarray(metrics["env_steps"])[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            mean, std = np.nanmean(returns, axis=0), np.nanstd(returns, axis=0)
        n = returns.shape[0]
        (line,) = ax.plot(steps, mean, label=f"{label} ({n} seed{'s' if n > 1 else ''})")
        if n > 1:
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.25)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title or "learning curve (mean ± std across seeds)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())
