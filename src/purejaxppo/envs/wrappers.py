"""Environment wrappers that change what the agent observes, keeping the protocol's API."""

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


def is_flat(obs_shape_tree: Any) -> bool:
    """True if an observation (or its `eval_shape`) is one array, not a pytree of them."""
    return len(jax.tree.leaves(obs_shape_tree)) == 1 and not isinstance(
        obs_shape_tree, (dict, tuple, list)
    )


def flatten_observation(obs: Any) -> jax.Array:
    """A pytree observation as one float32 vector: every leaf raveled, in `jax.tree` order
    (dict keys sorted), concatenated. A batch axis is not supported here: vmap over it."""
    return jnp.concatenate([jnp.ravel(x).astype(jnp.float32) for x in jax.tree.leaves(obs)])


class FlattenObservation:
    """Turns pytree (dict, tuple) observations into one float32 vector (`flatten_observation`),
    in `reset`, `step` and `info["final_observation"]` alike; `observation_space` is not
    rewritten (the trainer reads shapes from a trial `reset`)."""

    def __init__(self, env: Any):
        self.env = env

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, Any]:
        """Returns (flat observation, state) of a fresh episode."""
        obs, state = self.env.reset(key, params)
        return flatten_observation(obs), state

    def step(self, key: jax.Array, state: Any, action: jax.Array, params: Any):
        """Steps the wrapped environment; returns its six values with flat observations."""
        obs, state, reward, terminated, truncated, info = self.env.step(key, state, action, params)
        info = {**info, "final_observation": flatten_observation(info["final_observation"])}
        return flatten_observation(obs), state, reward, terminated, truncated, info
