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
from jax.custom_batching import custom_vmap


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


def _where_rows(done: jax.Array, on_true: Any, on_false: Any) -> Any:
    """`select_tree` over a batch: `done` is `[N]`, the leaves `[N, ...]`."""

    def pick(a: jax.Array, b: jax.Array) -> jax.Array:
        out = jnp.where(done.reshape(done.shape + (1,) * (b.ndim - 1)), a, b)
        return out if out.dtype == b.dtype else out.astype(b.dtype)

    return jax.tree.map(pick, on_true, on_false)


def pooled_auto_reset(
    reset: Callable[[jax.Array, Any], tuple[Any, Any]], reset_ratio: int
) -> Callable[..., AutoReset]:
    """`auto_reset` for a family whose reset is expensive (craftax generates a world).

    Unbatched, the returned function is `auto_reset`. Under `vmap` over N environments it
    does not run `reset` N times and select (what a plain select costs under `vmap`): it runs
    it for a pool of `ceil(N / reset_ratio)` environments only, the first ones (by index) to
    be done in this step, each with its own key, and hands the pool's episodes to the done
    environments in order. Whenever at most the pool's size of environments end in one step,
    the result is bit for bit the plain `vmap(auto_reset)`; beyond it, the done environment
    of rank r (0-based, by index) starts the same episode as rank `r % pool`, as in craftax's
    own optimistic resets.

    Args:
        reset: `reset(key, params) -> (obs, state)`.
        reset_ratio: environments per fresh episode generated in a step (1: one per
            environment, exactly `auto_reset`).

    Returns:
        `fn(key, done, obs, state, params) -> AutoReset` (the arguments of `auto_reset`, with
        the params `reset` needs passed in, not closed over: `vmap` must see every array).
    """
    if reset_ratio < 1:
        raise ValueError(f"reset_ratio must be >= 1, got {reset_ratio}")

    def plain(key, done, obs, state, params):
        return auto_reset(key, done, obs, state, lambda k: reset(k, params))

    reset_done = custom_vmap(plain)

    @reset_done.def_vmap
    def reset_done_batched(axis_size, in_batched, key, done, obs, state, params):
        pool = -(-axis_size // reset_ratio)
        if pool >= axis_size or any(jax.tree.leaves(in_batched[4])):
            # nothing to save, or params that differ per environment: the plain select
            args = (key, done, obs, state, params)
            args = [_broadcast(x, b, axis_size) for x, b in zip(args, in_batched, strict=True)]
            out = jax.vmap(plain)(*args)
            return out, jax.tree.map(lambda _: True, out)
        key, done, obs, state = (
            _broadcast(x, b, axis_size)
            for x, b in zip((key, done, obs, state), in_batched[:4], strict=True)
        )
        rank = jnp.cumsum(done) - 1  # [N]: order of each done environment among this step's
        first = jnp.nonzero(done, size=pool, fill_value=0)[0]  # [pool]: the first done ones
        fresh_obs, fresh_state = jax.vmap(reset, in_axes=(0, None))(key[first], params)
        slot = jnp.mod(rank, pool)
        take = lambda tree: jax.tree.map(lambda x: x[slot], tree)  # noqa: E731
        out = AutoReset(
            obs=_where_rows(done, take(fresh_obs), obs),
            state=_where_rows(done, take(fresh_state), state),
            final_observation=obs,
        )
        return out, jax.tree.map(lambda _: True, out)

    return reset_done


def _broadcast(tree: Any, batched: Any, size: int) -> Any:
    """Gives every leaf of `tree` a leading axis of `size` where `batched` says it has none."""
    return jax.tree.map(
        lambda x, b: x if b else jnp.broadcast_to(x, (size,) + jnp.shape(x)), tree, batched
    )
