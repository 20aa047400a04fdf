"""Successive halving's host-side rules in NumPy: setting scores, ranking, who keeps going and
which rows move where. Pure functions of small arrays, checked against a plain-Python reference."""

from __future__ import annotations

import math

import numpy as np


def setting_scores(
    row_setting: np.ndarray, row_scores: np.ndarray, num_settings: int
) -> np.ndarray:
    """Each setting's score: the mean of its rows' finite scores.

    Args:
        row_setting: `[P]` int, the setting each row trained.
        row_scores: `[P]` float, each row's window score (NaN: no finished episode).
        num_settings: S.

    Returns:
        `[S]` float64; NaN for a setting with no row, or none with a finite score.
    """
    row_scores = np.asarray(row_scores, np.float64)
    finite = np.isfinite(row_scores)
    total = np.bincount(row_setting, np.where(finite, row_scores, 0.0), num_settings)
    count = np.bincount(row_setting, finite.astype(np.float64), num_settings)
    return np.where(count > 0, total / np.maximum(count, 1.0), np.nan)


def rank_settings(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """`candidates` (setting indices) best score first: NaN last, ties lower index first."""
    candidates = np.asarray(candidates, np.int64)
    value = np.asarray(scores, np.float64)[candidates]
    missing = np.isnan(value)
    return candidates[np.lexsort((candidates, -np.where(missing, 0.0, value), missing))]


def halving_assignment(
    row_setting: np.ndarray, row_scores: np.ndarray, eta: int
) -> tuple[np.ndarray, np.ndarray]:
    """One rung of successive halving on the host.

    Args:
        row_setting: `[P]` int, the setting each row trained in the rung just ended; the alive
            settings are the ones that appear in it.
        row_scores: `[P]` float, each row's window score (NaN: no finished episode).
        eta: keep the best `ceil(alive / eta)` settings (at least 1).

    Returns:
        (`[P]` int64 setting of each row for the next rung, `[P]` int32 parent of each row).
        The survivors' rows keep their setting and are their own parents; the freed rows, in
        row order, go round robin to the survivors best first, each with the survivor's
        lowest-index row as parent.
    """
    row_setting = np.asarray(row_setting, np.int64)
    alive = np.unique(row_setting)
    scores = setting_scores(row_setting, row_scores, int(alive[-1]) + 1)
    keep = rank_settings(scores, alive)[: max(1, math.ceil(alive.size / eta))]
    parents = np.arange(row_setting.shape[0], dtype=np.int32)
    new_setting = row_setting.copy()
    freed = np.flatnonzero(~np.isin(row_setting, keep))
    first_row = np.array([np.flatnonzero(row_setting == s)[0] for s in keep])
    turn = np.arange(freed.size) % keep.size
    new_setting[freed] = keep[turn]
    parents[freed] = first_row[turn]
    return new_setting, parents


def row_settings_from_parents(parents: np.ndarray) -> np.ndarray:
    """`[T, P]` the setting each row trained in each interval, from the `[T, P]` lineage parents
    (row i starts as setting i; a row takes its parent's setting at the start of interval t)."""
    parents = np.asarray(parents, np.int64)
    current = np.arange(parents.shape[1], dtype=np.int64)
    rows = np.zeros(parents.shape, np.int64)
    for t in range(parents.shape[0]):
        current = current[parents[t]]
        rows[t] = current
    return rows


def eliminations(num_settings: int, eta: int) -> int:
    """Rungs until one of `num_settings` settings is left when each keeps `ceil(alive / eta)`."""
    rungs = 0
    while num_settings > 1:
        num_settings, rungs = math.ceil(num_settings / eta), rungs + 1
    return rungs
