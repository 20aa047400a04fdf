"""Environment wrappers that change what the agent observes, keeping gymnax 1.x's API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from purejaxppo.errors import ConfigError


class ObservationMask:
    """Zeroes the entries `indices` of every (flattened) observation: the agent never sees them.

    E.g. CartPole-v1's velocities (`obs_mask: [1, 3]`), which turns it into a task that needs
    memory. `reset` and `step` keep the wrapped environment's API; `info["final_observation"]`
    is masked too, so a truncated episode is bootstrapped from what the agent could see.
    """

    def __init__(self, env: Any, env_params: Any, indices: Sequence[int]):
        self.env = env
        shape = jax.eval_shape(env.reset, jax.random.PRNGKey(0), env_params)[0].shape
        size = 1
        for d in shape:
            size *= d
        bad = [i for i in indices if not 0 <= i < size]
        if bad:
            raise ConfigError(
                f"obs_mask {list(indices)} has indices outside the observation's {size} entries "
                f"(shape {list(shape)}): {bad}; use indices 0..{size - 1}"
            )
        keep = jnp.ones(size, jnp.float32).at[jnp.asarray(list(indices), jnp.int32)].set(0.0)
        self._keep = keep.reshape(shape)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def _mask(self, obs: jax.Array) -> jax.Array:
        return (obs * self._keep).astype(obs.dtype)

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, Any]:
        """Returns (masked observation, state) of a fresh episode."""
        obs, state = self.env.reset(key, params)
        return self._mask(obs), state

    def step(self, key: jax.Array, state: Any, action: jax.Array, params: Any):
        """Steps the wrapped environment; returns its six values with the observations masked."""
        obs, state, reward, terminated, truncated, info = self.env.step(key, state, action, params)
        info = {**info, "final_observation": self._mask(info["final_observation"])}
        return self._mask(obs), state, reward, terminated, truncated, info
