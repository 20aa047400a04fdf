"""Synchronous successive halving (Jamieson & Talwalkar 2016; the synchronous form of ASHA and of
one Hyperband bracket) on the run axis of a population.

Every setting of the space starts on one row of the population (row i as setting i, from
`PRNGKey(seed + i)`). At the end of each rung of `rung_updates` updates the alive settings are
ranked by their score (the mean window score of their rows) and the best `ceil(alive / eta)` go
on. The freed compute goes to the survivors without recompiling: the population keeps its size,
and every row of an eliminated setting continues as one more copy of a survivor (round robin over
the survivors, best first). It copies the learner of the survivor's first row and takes its
hyperparameters, but keeps its own environments and RNG stream, so the copies explore apart from
there on and a survivor's next score averages over all of them. A survivor's own rows are never
moved. Once one setting is left, the step changes nothing. The row -> setting assignment and the
ranking live on the host; only the copy runs on the device.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from purejaxppo.config import ConfigError, Hyperparams, PPOConfig
from purejaxppo.hparams import HPARAM_FIELDS
from purejaxppo.search.halving_ops import (
    eliminations,
    halving_assignment,
    rank_settings,
    row_settings_from_parents,
    setting_scores,
)
from purejaxppo.search.pbt_ops import copy_learner
from purejaxppo.search.population import (
    PopulationRun,
    PopulationState,
    PopulationStep,
    train_population,
)
from purejaxppo.sweep_space import STATIC_FIELDS, Space, expand_space


@jax.jit
def _move_rows(state: Any, table: Hyperparams, row_setting: jax.Array, parents: jax.Array):
    hparams = jax.tree.map(lambda x: x[row_setting], table)
    return copy_learner(state, parents), hparams


def halving_step(eta: int, setting_hparams: Hyperparams, row_setting: np.ndarray) -> PopulationStep:
    """The population step of successive halving.

    Args:
        setting_hparams: leaves `[S]`, each setting's hyperparameters.
        row_setting: `[P]` the assignment in force for the next interval; the step holds the
            assignment from there on and advances it at every rung.

    Returns:
        `step(state, hparams, scores [P], interval) -> (state, hparams, parents [P])` for
        `train_population`.
    """
    current = np.asarray(row_setting, np.int64)

    def run(state: Any, hparams: Hyperparams, scores: np.ndarray, interval: int):
        nonlocal current
        new_setting, parents = halving_assignment(current, scores, eta)
        if np.array_equal(new_setting, current):
            return state, hparams, parents
        current = new_setting
        state, hparams = _move_rows(state, setting_hparams, new_setting, parents)
        return state, hparams, parents

    return run


def resumed_assignment(resume: PopulationState, num_updates: int) -> np.ndarray:
    """`[P]` the row -> setting assignment in force for the interval after `resume`: the lineage
    parents composed, then `resume.parents` (the last step's output) if training goes on."""
    parents = np.asarray(resume.lineage["parent"])
    history = row_settings_from_parents(parents)
    current = history[-1] if history.shape[0] else np.arange(parents.shape[1], dtype=np.int64)
    ended = resume.lineage["end_update"]
    if ended.shape[0] and int(ended[-1]) >= num_updates:  # no step ran after the last interval
        return current
    return current[np.asarray(resume.parents, np.int64)]


@dataclasses.dataclass
class HalvingResult:
    """A successive-halving run: the population's metrics and lineage, and each setting's fate."""

    run: PopulationRun
    settings: list[dict[str, Any]]
    state: PopulationState  # what a resume continues from
    eta: int

    @property
    def row_settings(self) -> np.ndarray:
        """`[T, P]` int, the setting each row trained in each interval."""
        return row_settings_from_parents(self.run.lineage["parent"])

    @property
    def rung_scores(self) -> np.ndarray:
        """`[T, S]` each setting's score (mean window score of its rows, as the step saw them)
        at the end of each interval; NaN where it was no longer alive (or none of its rows
        finished an episode in the window)."""
        rows = self.row_settings
        if rows.shape[0] == 0:
            return np.zeros((0, len(self.settings)))
        scores = self.run.lineage["score"].astype(np.float32)
        count = len(self.settings)
        return np.stack([setting_scores(r, s, count) for r, s in zip(rows, scores, strict=True)])

    def ranking(self) -> list[int]:
        """Setting indices best first: a setting alive in a later interval ranks above one
        eliminated earlier; among those last alive in the same interval, by their score there
        (NaN last, ties lower index first)."""
        rows = self.row_settings
        count = len(self.settings)
        if rows.shape[0] == 0:
            return list(range(count))
        alive = np.stack([np.isin(np.arange(count), r) for r in rows])
        last = alive.shape[0] - 1 - np.argmax(alive[::-1], axis=0)
        final_scores = self.rung_scores[last, np.arange(count)]
        order: list[int] = []
        for t in sorted(set(last.tolist()), reverse=True):
            order += rank_settings(final_scores, np.flatnonzero(last == t)).tolist()
        return order

    @property
    def best_setting(self) -> int:
        """The setting that ranks first."""
        return self.ranking()[0]

    def best_config(self) -> PPOConfig:
        """The run's config with the best setting's hyperparameters applied."""
        return self.run.config.replace(**self.settings[self.best_setting])


def _check_fields(space: Space) -> None:
    settings = [space] if isinstance(space, Mapping) else space
    if not isinstance(settings, Sequence):
        return  # expand_space says what is wrong with it
    for setting in settings:
        for name in setting if isinstance(setting, Mapping) else ():
            if name in STATIC_FIELDS:
                raise ConfigError(
                    f"{name!r} cannot be searched by successive halving: only hyperparameters "
                    f"({', '.join(HPARAM_FIELDS)}) change inside one program; static fields "
                    "need separate programs: set it with --set or run a sweep over it"
                )


def check_halving(
    config: PPOConfig,
    space: Space,
    eta: int,
    rung_updates: int | None,
    num_samples: int | None = None,
    sample_seed: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Raises `ConfigError` (one line, with the fix) for a halving search that cannot run;
    returns its settings and the rung length in updates otherwise. Nothing is compiled."""
    _check_fields(space)
    settings = expand_space(space, num_samples, sample_seed)
    count = len(settings)
    if count < 2:
        raise ConfigError(f"successive halving needs at least 2 settings, the space gives {count}")
    if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
        raise ConfigError(f"eta must be an integer of at least 2, got {eta!r}")
    if rung_updates is None:
        rung_updates = max(1, config.num_updates // (eliminations(count, eta) + 1))
    if isinstance(rung_updates, bool) or not isinstance(rung_updates, int) or rung_updates < 1:
        raise ConfigError(f"rung_updates must be a positive integer, got {rung_updates!r}")
    if rung_updates >= config.num_updates:
        raise ConfigError(
            f"rung_updates={rung_updates} leaves no rung in a run of {config.num_updates} "
            "updates; give fewer updates per rung or more total_timesteps"
        )
    return settings, rung_updates


def successive_halving(
    config: PPOConfig,
    space: Space,
    eta: int = 2,
    rung_updates: int | None = None,
    num_samples: int | None = None,
    sample_seed: int = 0,
    seed: int = 0,
    window: int | None = None,
    callbacks: Sequence[Any] = (),
    resume: PopulationState | None = None,
    stop: threading.Event | None = None,
    stop_after: int | None = None,
) -> HalvingResult:
    """Trains every setting of `space` and halves them every `rung_updates` updates.

    Args:
        space: hyperparameters only, in any form `expand_space` takes (grid lists, `Uniform` /
            `LogUniform` / `Choice` drawn `num_samples` times with `sample_seed`, or a list of
            settings); fields it leaves out keep the config's values.
        eta: keep the best `ceil(alive / eta)` settings at every rung.
        rung_updates: updates per rung (default: the run's updates split evenly into the rungs
            needed to reach one setting, plus one rung for the winner on all rows).
        seed: row i trains from `PRNGKey(seed + i)`.
        window, callbacks, resume, stop, stop_after: as `train_population`.

    Returns:
        `HalvingResult`; the same arguments give the same lineage and metrics, bit for bit, and
        a run resumed from its `state` equals one uninterrupted run.
    """
    settings, rung_updates = check_halving(
        config, space, eta, rung_updates, num_samples, sample_seed
    )
    count = len(settings)
    base = config.hparams
    values = {n: [s.get(n, getattr(base, n)) for s in settings] for n in HPARAM_FIELDS}
    table = Hyperparams(**{n: np.asarray(v, np.float32) for n, v in values.items()})
    start = (
        np.arange(count, dtype=np.int64)
        if resume is None
        else resumed_assignment(resume, config.num_updates)
    )
    run, state = train_population(
        config,
        table,
        np.arange(seed, seed + count),
        rung_updates,
        halving_step(eta, table, start),
        window=window,
        callbacks=callbacks,
        resume=resume,
        stop=stop,
        stop_after=stop_after,
    )
    return HalvingResult(run, settings, state, eta)
