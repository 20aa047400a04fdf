"""Same-step auto-reset for adapters whose family does not reset the way the protocol does.

The protocol's `step` returns a fresh episode's observation and state where the episode
ended, and the observation it ended on in `info["final_observation"]`. A family that resets
on the *next* call (navix, dm_env style) or not at all (xland-minigrid, brax's raw `step`)
steps its raw environment, then hands the result to `auto_reset`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class AutoReset(NamedTuple):
    """What the protocol's `step` returns about the next observation, after an auto-reset."""

    obs: Any  # the fresh episode's first observation where done, else the stepped one
    state: Any  # the fresh episode's state where done, else the stepped one
    final_observation: Any  # the stepped observation, always (the pre-reset one where done)


def select_tree(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    """Leaf-wise `jnp.where(pred, on_true, on_false)` over two pytrees of one structure.

    Args:
        pred: a scalar bool `[]` (one unbatched environment).
        on_true: the pytree taken where `pred`.
        on_false: the pytree taken elsewhere; leaves keep their dtypes and shapes.

    Returns:
        A pytree like `on_false`.
    """

    def pick(a: jax.Array, b: jax.Array) -> jax.Array:
        out = jnp.where(pred, a, b)
        # a reset's weakly typed scalars must not promote the carried state's dtypes
        return out if out.dtype == b.dtype else out.astype(b.dtype)

    return jax.tree.map(pick, on_true, on_false)


def auto_reset(
    key: jax.Array,
    done: jax.Array,
    obs: Any,
    state: Any,
    reset: Callable[[jax.Array], tuple[Any, Any]],
) -> AutoReset:
    """Resets one environment in the step that ended its episode.

    Both branches are computed and selected leaf-wise (no `lax.cond`): under `vmap` a cond
    would run both anyway, and a select keeps the program one straight line.

    Args:
        key: the reset's key (split it from the step's key: the fresh episode must not reuse
            the randomness of the step that ended the last one).
        done: bool `[]`, `terminated | truncated` of this step.
        obs: the stepped observation (any pytree, e.g. `[H, W, C]`).
        state: the stepped state (any pytree).
        reset: `reset(key) -> (obs, state)` of the same structures as `obs` and `state`.

    Returns:
        `AutoReset(obs, state, final_observation)`: where `done`, the fresh episode's obs and
        state; elsewhere the stepped ones; `final_observation` is the stepped `obs` either way.
    """
    reset_obs, reset_state = reset(key)
    return AutoReset(
        obs=select_tree(done, reset_obs, obs),
        state=select_tree(done, reset_state, state),
        final_observation=obs,
    )
