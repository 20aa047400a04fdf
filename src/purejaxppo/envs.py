"""Environment creation and the episode-statistics wrapper; the only module that imports gymnax."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from purejaxppo.config import ConfigError


@dataclasses.dataclass(frozen=True)
class ActionSpec:
    """What the policy head needs to know about the action space."""

    discrete: bool
    size: int  # number of actions (discrete) or action dimensions (continuous)
    low: Any = None  # continuous bounds, arrays shaped [size]
    high: Any = None


@struct.dataclass
class EpisodeStatsState:
    """The wrapped environment's state plus the running return and length of its episode."""

    env_state: Any
    episode_return: jax.Array  # [] float32, raw reward summed so far this episode
    episode_length: jax.Array  # [] int32


class EpisodeStats:
    """Wraps a gymnax 1.x environment: records each finished episode's raw return and length.

    `step` keeps gymnax's six-value API. Its `info` gains `episode_return` and `episode_length`
    (the finished episode's totals where `terminated | truncated`, else 0). Continuous actions are
    clipped to the action space's bounds before the inner step.
    """

    def __init__(self, env: Any, env_params: Any):
        self.env = env
        self.action_spec = action_spec(env, env_params)

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


def action_spec(env: Any, env_params: Any) -> ActionSpec:
    """Reads the action space of a gymnax environment into an `ActionSpec`."""
    space = env.action_space(env_params)
    if hasattr(space, "n"):
        return ActionSpec(discrete=True, size=int(space.n))
    shape = tuple(getattr(space, "shape", ()))
    if len(shape) != 1:
        raise ConfigError(
            f"{env.name}: only Discrete or 1-D Box action spaces are supported, got {space!r}"
        )
    size = shape[0]
    low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), (size,))
    high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), (size,))
    return ActionSpec(discrete=False, size=size, low=low, high=high)


def registered_env_ids() -> list[str]:
    """Ids gymnax can make, including ones registered at runtime with gymnax.registration."""
    import gymnax

    return list(gymnax.registered_envs)


def make_env(env_id: str, **env_kwargs: Any) -> tuple[EpisodeStats, Any]:
    """Makes a gymnax environment wrapped with `EpisodeStats`.

    Returns:
        (wrapped environment, its default `env_params`).

    Raises:
        ConfigError: unknown id (listing the close gymnax ids), bad keyword arguments, or an
            environment that does not follow gymnax's six-value `step` API.
    """
    import gymnax

    known = registered_env_ids()
    if env_id not in known:
        close = difflib.get_close_matches(env_id, known, n=4, cutoff=0.4)
        hint = f"; close gymnax ids: {', '.join(close)}" if close else ""
        raise ConfigError(f"unknown environment {env_id!r}{hint} (all ids: gymnax.registered_envs)")
    try:
        env, env_params = gymnax.make(env_id, **env_kwargs)
    except TypeError as error:
        raise ConfigError(f"env_kwargs {env_kwargs!r} rejected by {env_id}: {error}") from None
    _check_step_api(env, env_params, env_id)
    return EpisodeStats(env, env_params), env_params


def _check_step_api(env: Any, env_params: Any, env_id: str) -> None:
    for method in ("reset", "step", "action_space", "observation_space"):
        if not callable(getattr(env, method, None)):
            raise ConfigError(f"environment {env_id!r} has no {method}(); gymnax envs need it")
    key = jax.random.PRNGKey(0)
    try:
        obs_shape, state_shape = jax.eval_shape(env.reset, key, env_params)
        action = env.action_space(env_params).sample(key)
        out = jax.eval_shape(env.step, key, state_shape, action, env_params)
    except Exception as error:  # noqa: BLE001 - any failure here is the env's, reported in one line
        raise ConfigError(f"environment {env_id!r} failed a trial reset/step: {error}") from None
    if not isinstance(out, tuple) or len(out) != 6:
        raise ConfigError(
            f"environment {env_id!r} step() returns {len(out) if isinstance(out, tuple) else 1} "
            "values; purejaxppo needs gymnax 1.x's six: (obs, state, reward, terminated, "
            "truncated, info)"
        )
    if "final_observation" not in out[5]:
        raise ConfigError(
            f"environment {env_id!r} step() info lacks 'final_observation' (the pre-reset "
            "observation); subclass gymnax.environments.environment.Environment to get it"
        )
