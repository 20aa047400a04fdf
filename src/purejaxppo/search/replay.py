"""Replaying a PBT schedule: one run whose hyperparameters switch at the schedule's updates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from purejaxppo.config import ConfigError, Hyperparams, PPOConfig
from purejaxppo.hparams import HPARAM_FIELDS
from purejaxppo.search.population import PopulationRun, train_population


def replay_schedule(
    config: PPOConfig, schedule: Sequence[Mapping[str, float]], seed: int = 0, callbacks=()
) -> PopulationRun:
    """Trains one run from `PRNGKey(seed)` whose hyperparameters follow `schedule` (as
    `PBTResult.schedule` gives it: entry t's values are in force from update `start_update`).

    The entries must start at update 0 and be evenly spaced (the last interval may be shorter),
    as PBT's are. Returns the run (`PopulationRun` of one member).
    """
    starts = [int(entry["start_update"]) for entry in schedule]
    every = starts[1] - starts[0] if len(starts) > 1 else config.num_updates
    if not starts or starts != list(range(0, every * len(starts), every)) or every < 1:
        raise ConfigError("a schedule's start_update values must be 0, K, 2K, ... (evenly spaced)")
    if starts[-1] >= config.num_updates:
        raise ConfigError(
            f"the schedule starts an interval at update {starts[-1]}, but the config has "
            f"{config.num_updates} updates"
        )

    def values(entry: Mapping[str, float]) -> Hyperparams:
        fields = {
            n: np.asarray([entry.get(n, getattr(config.hparams, n))], np.float32)
            for n in HPARAM_FIELDS
        }
        return Hyperparams(**fields)

    def step(state: Any, hparams: Hyperparams, scores: np.ndarray, interval: int):
        return state, values(schedule[interval + 1]), np.zeros(1, np.int32)

    run, _ = train_population(
        config, values(schedule[0]), np.asarray([seed]), every, step, callbacks=callbacks
    )
    return run
