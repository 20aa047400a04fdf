"""The craftax family: craftax's four environments under the protocol, built without craftax's
own auto-reset so that the adapter can keep the pre-reset observation and tell a time limit
(`EnvParams.max_timesteps`) from a death."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from craftax.craftax_env import make_craftax_env_from_name

from purejaxppo.envs.autoreset import pooled_auto_reset
from purejaxppo.errors import ConfigError

# make_craftax_env_from_name(name, auto_reset=False) knows exactly these (its "-AutoReset-"
# aliases exist only with craftax's own auto-reset, which would hide the final observation).
_NAMES = (
    "Craftax-Classic-Symbolic-v1",
    "Craftax-Classic-Pixels-v1",
    "Craftax-Symbolic-v1",
    "Craftax-Pixels-v1",
)
_NO_LIMIT = 2**31 - 1  # a max_timesteps no episode reaches: is_game_over without its time limit
# Environments per world generated in a step (`autoreset.pooled_auto_reset`): 64 environments
# generate 4 worlds a step, not 64. craftax's own PPO uses the same ratio for its optimistic
# resets; more than 4 of 64 episodes ending in one step is rare once agents survive a while.
DEFAULT_RESET_RATIO = 16


def env_ids() -> list[str]:
    """The craftax names this family makes (without the `craftax:` prefix)."""
    return list(_NAMES)


class CraftaxEnv:
    """A craftax `...NoAutoReset` environment under the protocol.

    craftax's `step` returns five values with one `done` (time limit, death, lava, or beating
    the final boss). Here `terminated` is every end but the time limit, `truncated` is the time
    limit (`state.timestep >= params.max_timesteps`) when nothing else ended the episode, and
    the adapter auto-resets with `info["final_observation"]` the observation the episode ended
    on. craftax's `info` (achievements at the end of an episode, `score`) is kept; its
    `discount` is dropped (it is 0 at the time limit too).
    """

    def __init__(self, inner: Any, name: str, reset_ratio: int = DEFAULT_RESET_RATIO):
        self.inner = inner
        self.name = name
        self._reset_done = pooled_auto_reset(inner.reset, reset_ratio)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    @property
    def default_params(self) -> Any:
        """craftax's `EnvParams` (the time limit is its field `max_timesteps`)."""
        return self.inner.default_params

    def episode_limit(self, params: Any) -> int:
        """craftax's time limit, `params.max_timesteps` (10,000 steps by default)."""
        return int(params.max_timesteps)

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, Any]:
        """Returns (observation, craftax `EnvState`) of a fresh world: symbolic observations
        are float32 `[obs_dim]`, pixel ones float32 `[H, W, 3]`."""
        return self.inner.reset(key, params)

    def step(
        self, key: jax.Array, state: Any, action: jax.Array, params: Any
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        """One step with auto-reset.

        Args:
            action: int32 `[]`, one of `action_space(params).n`.

        Returns:
            (obs, state, reward float32 `[]`, terminated bool `[]`, truncated bool `[]`, info);
            where the episode ended, obs/state are a fresh episode's and
            `info["final_observation"]` is the observation it ended on.
        """
        step_key, reset_key = jax.random.split(key)
        obs, next_state, reward, _, info = self.inner.step(step_key, state, action, params)
        terminated = self.inner.is_terminal(next_state, params.replace(max_timesteps=_NO_LIMIT))
        time_up = next_state.timestep >= params.max_timesteps
        truncated = jnp.logical_and(time_up, jnp.logical_not(terminated))
        done = jnp.logical_or(terminated, truncated)
        after = self._reset_done(reset_key, done, obs, next_state, params)
        info = {k: v for k, v in info.items() if k != "discount"}
        info["final_observation"] = after.final_observation
        reward = jnp.asarray(reward, jnp.float32)
        return after.obs, after.state, reward, jnp.asarray(terminated, bool), truncated, info

    def action_space(self, params: Any = None) -> Any:
        """craftax's `Discrete` space (17 actions in Classic, 43 in Craftax)."""
        return self.inner.action_space(params)

    def observation_space(self, params: Any) -> Any:
        """craftax's `Box` space of one observation."""
        return self.inner.observation_space(params)


def make(
    name: str, reset_ratio: int = DEFAULT_RESET_RATIO, **static_params: Any
) -> tuple[CraftaxEnv, Any]:
    """Makes craftax environment `name`.

    Args:
        name: one of `env_ids()`.
        reset_ratio: under `vmap` over N environments, each step generates
            `ceil(N / reset_ratio)` fresh worlds for the episodes that end
            (`autoreset.pooled_auto_reset`); 1 generates one per environment.
        **static_params: fields of craftax's `StaticEnvParams` to change (e.g. `map_size` in
            Classic); these shape arrays, so they are constructor arguments, not params.

    Returns:
        (the protocol environment, craftax's `EnvParams`; its time limit is `max_timesteps`).
    """
    inner = make_craftax_env_from_name(name, auto_reset=False)
    if static_params:
        static = inner.default_static_params().replace(**static_params)
        inner = type(inner)(static_env_params=static)
    if not isinstance(reset_ratio, int) or reset_ratio < 1:
        raise ConfigError(f"craftax reset_ratio must be an integer >= 1, got {reset_ratio!r}")
    return CraftaxEnv(inner, name, reset_ratio), inner.default_params
