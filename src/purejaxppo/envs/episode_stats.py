"""`EpisodeStats`: the wrapper every training environment gets (returns and lengths of
finished episodes, continuous actions clipped to their bounds)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from purejaxppo.envs.protocol import action_spec, episode_limit


@struct.dataclass
class EpisodeStatsState:
    """The wrapped environment's state plus the running return and length of its episode."""

    env_state: Any
    episode_return: jax.Array  # [] float32, raw reward summed so far this episode
    episode_length: jax.Array  # [] int32


class EpisodeStats:
    """Wraps a protocol environment: records each finished episode's raw return and length.

    `step` keeps the six-value API. Its `info` gains `episode_return` and `episode_length`
    (the finished episode's totals where `terminated | truncated`, else 0). Continuous actions
    are clipped to the action space's bounds before the inner step. `has_action_mask` says
    whether the environment provides `action_mask(state, params)`.
    """

    def __init__(self, env: Any, env_params: Any):
        self.env = env
        self.action_spec = action_spec(env, env_params)
        self.has_action_mask = callable(getattr(env, "action_mask", None))

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, EpisodeStatsState]:
        """Returns (observation, wrapped state) for a fresh episode."""
        obs, env_state = self.env.reset(key, params)
        return obs, EpisodeStatsState(env_state, jnp.float32(0.0), jnp.int32(0))

    def step(self, key: jax.Array, state: EpisodeStatsState, action: jax.Array, params: Any):
        """Steps with auto-reset; returns (obs, state, reward, terminated, truncated, info)."""
        if not self.action_spec.discrete:
            action = jnp.clip(action, self.action_spec.low, self.action_spec.high)
        obs, env_state, reward, terminated, truncated, info = self.env.step(
            key, state.env_state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        ret = state.episode_return + reward.astype(jnp.float32)
        length = state.episode_length + 1
        info = {
            **info,
            "episode_return": jnp.where(done, ret, 0.0),
            "episode_length": jnp.where(done, length, 0),
        }
        new_state = EpisodeStatsState(
            env_state, jnp.where(done, 0.0, ret), jnp.where(done, 0, length)
        )
        return obs, new_state, reward, terminated, truncated, info

    def action_mask(self, state: EpisodeStatsState, params: Any) -> jax.Array:
        """Legal actions `[action_spec.size]` bool in `state` (all True without a mask)."""
        if not self.has_action_mask:
            return jnp.ones((self.action_spec.size,), bool)
        return self.env.action_mask(state.env_state, params).astype(bool)

    def episode_limit(self, params: Any) -> int | None:
        """The inner environment's time limit in steps (`protocol.episode_limit`), or None."""
        return episode_limit(self.env, params)
