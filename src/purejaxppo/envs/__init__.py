"""Environments: the protocol the trainer needs (`protocol`), `make_env` for gymnax ids, your
own registered ids and `family:name` ids of other JAX families (`families`), and wrappers."""

from purejaxppo.envs.autoreset import AutoReset, auto_reset
from purejaxppo.envs.episode_stats import EpisodeStats, EpisodeStatsState
from purejaxppo.envs.families import FAMILIES
from purejaxppo.envs.protocol import (
    ActionSpec,
    MultiDiscrete,
    action_spec,
    check_protocol,
    episode_limit,
)
from purejaxppo.envs.registry import (
    make_env,
    override_env_params,
    register_env,
    registered_env_ids,
)
from purejaxppo.envs.wrappers import FlattenObservation, ObservationMask, flatten_observation

__all__ = [
    "FAMILIES",
    "ActionSpec",
    "AutoReset",
    "EpisodeStats",
    "EpisodeStatsState",
    "FlattenObservation",
    "MultiDiscrete",
    "ObservationMask",
    "action_spec",
    "auto_reset",
    "check_protocol",
    "episode_limit",
    "flatten_observation",
    "make_env",
    "override_env_params",
    "register_env",
    "registered_env_ids",
]
