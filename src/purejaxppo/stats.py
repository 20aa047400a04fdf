"""Statistics across seeds shared by sweep tables and learning-curve plots (NumPy only)."""

from __future__ import annotations

import warnings

import numpy as np


def bootstrap_mean_interval(
    values: np.ndarray, level: float, samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean across seeds and a percentile-bootstrap interval of that mean.

    Seeds (axis 0) are drawn with replacement `samples` times with NumPy's `default_rng(seed)`;
    the same draws serve every column, so a band stays smooth along a curve. Non-finite entries
    count as missing: each mean, the plain one and every resample's, is over its finite entries
    only, and a resample with none is left out of the percentiles.

    Args:
        values: `[seeds]` or `[seeds, T]` floats.
        level: coverage (0.95 gives the 2.5 and 97.5 percentiles of the resampled means).

    Returns:
        (mean, low, high), each `[]` or `[T]`. NaN where a column has no finite value; low ==
        high == mean where it has one seed, or identical values.
    """
    x = np.asarray(values, dtype=np.float64)
    x = np.where(np.isfinite(x), x, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN columns give NaN
        mean = np.nanmean(x, axis=0)
        if x.shape[0] < 2:
            return mean, mean.copy(), mean.copy()
        draws = np.random.default_rng(seed).integers(0, x.shape[0], (samples, x.shape[0]))
        means = np.nanmean(x[draws], axis=1)  # [samples] or [samples, T]
        tail = 100 * (1 - level) / 2
        low, high = np.nanpercentile(means, [tail, 100 - tail], axis=0)
    return mean, low, high
