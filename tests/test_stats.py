"""`purejaxppo.stats.bootstrap_mean_interval` against a plain loop, and its two users agreeing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from purejaxppo.io.plots import bootstrap_band
from purejaxppo.stats import bootstrap_mean_interval
from purejaxppo.sweep_results import bootstrap_ci


def _loop_interval(values, level, samples, seed):
    """The same seed draws, with each resample's mean and the percentiles taken by hand."""
    n = len(values)
    draws = np.random.default_rng(seed).integers(0, n, (samples, n))
    means = []
    for row in draws:
        finite = [values[i] for i in row if math.isfinite(values[i])]
        if finite:
            means.append(sum(finite) / len(finite))
    tail = 100 * (1 - level) / 2
    return np.percentile(means, tail), np.percentile(means, 100 - tail)


@pytest.mark.parametrize(
    "values",
    [[1.0, 5.0, 2.0, 8.0, 3.0], [np.nan, 4.0, 1.0, np.inf, 9.0, 2.0], [3.0, np.nan]],
)
def test_interval_matches_a_plain_loop(values):
    mean, low, high = bootstrap_mean_interval(np.array(values), 0.9, 500, seed=3)
    finite = [v for v in values if math.isfinite(v)]
    assert mean == pytest.approx(sum(finite) / len(finite))
    expected = _loop_interval(values, 0.9, 500, 3)
    assert (low, high) == pytest.approx(expected)


def test_columns_share_draws_and_missing_columns_are_nan():
    values = np.array([[1.0, np.nan, 2.0], [3.0, np.nan, 2.0], [8.0, np.nan, 2.0]])
    mean, low, high = bootstrap_mean_interval(values, 0.95, 400, seed=0)
    column0 = bootstrap_mean_interval(values[:, 0], 0.95, 400, seed=0)
    assert (mean[0], low[0], high[0]) == pytest.approx(column0)
    assert np.isnan([mean[1], low[1], high[1]]).all()
    assert (mean[2], low[2], high[2]) == (2.0, 2.0, 2.0)


def test_sweep_interval_and_plot_band_agree():
    rng = np.random.default_rng(1)
    finals = rng.normal(100.0, 20.0, size=8)
    finals[3] = np.nan
    low, high = bootstrap_ci(finals, resamples=1000, seed=5)
    _, band_low, band_high = bootstrap_band(finals[:, None], samples=1000, seed=5)
    assert (low, high) == (band_low[0], band_high[0])
    assert low < np.nanmean(finals) < high
