"""Legal-action masks: reading them from an environment, and what a mask with no legal action
means (pure array logic; the distributions that apply masks live in `networks.distributions`).

A mask is bool `[*batch, size]`, True where an action is legal: `size = n` for `Discrete(n)`,
`sum(nvec)` for `MultiDiscrete(nvec)` (one segment of `nvec[k]` entries per component k).

A row (or, multi-discrete, a component's segment) with no legal action at all is not the
policy's fault and has no right answer. The choice made here: such a segment falls back to
"every action legal" (`with_fallback`), so acting, the loss and the entropy stay finite and
deterministic (the unmasked policy's distribution), and training counts the steps where it
happened (`Metrics.fully_masked_steps`; `fully_masked`). An environment whose reset state
already allows nothing is refused before anything compiles (`check_trial_mask`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo.errors import ConfigError


def split_segments(x: jax.Array, nvec: Sequence[int] | None) -> list[jax.Array]:
    """`x [*batch, size]` split along its last axis into one part per component (`[x]` when
    `nvec` is None); part k is `[*batch, nvec[k]]`."""
    if nvec is None:
        return [x]
    return jnp.split(x, np.cumsum(nvec)[:-1].tolist(), axis=-1)


def fully_masked(mask: jax.Array, nvec: Sequence[int] | None = None) -> jax.Array:
    """bool `[*batch]`: rows of `mask [*batch, size]` where some component has no legal action."""
    empty = [~part.any(axis=-1) for part in split_segments(mask, nvec)]
    return jnp.stack(empty, axis=-1).any(axis=-1)


def with_fallback(mask: jax.Array, nvec: Sequence[int] | None = None) -> jax.Array:
    """`mask [*batch, size]` with every segment that allows nothing set to all True (legal)."""
    parts = [part | ~part.any(axis=-1, keepdims=True) for part in split_segments(mask, nvec)]
    return jnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]


def env_action_masks(env: Any, env_state: Any, env_params: Any) -> jax.Array | None:
    """The legal actions of a batch of environment states: bool `[N, size]`, or None when the
    (`EpisodeStats`-wrapped) environment has no `action_mask`."""
    if not getattr(env, "has_action_mask", False):
        return None
    return jax.vmap(env.action_mask, in_axes=(0, None))(env_state, env_params)


def check_trial_mask(env: Any, env_params: Any, env_id: str) -> None:
    """Refuses, in one line, an action mask on continuous actions and a mask that allows no
    action (in some component) in the state `reset(PRNGKey(0))` returns. Runs that reset once,
    eagerly; nothing happens for an environment without `action_mask`.

    Raises:
        ConfigError: as above.
    """
    if not getattr(env, "has_action_mask", False):
        return
    spec = env.action_spec
    if not spec.discrete:
        raise ConfigError(
            f"environment {env_id!r} has action_mask() but continuous actions; masks apply "
            "to Discrete and MultiDiscrete action spaces only"
        )
    with jax.ensure_compile_time_eval():
        _, state = env.reset(jax.random.PRNGKey(0), env_params)
        mask = np.asarray(env.action_mask(state, env_params), bool)
    empty = [k for k, part in enumerate(split_segments(mask, spec.nvec)) if not part.any()]
    if empty:
        where = f" for component {empty[0]}" if spec.nvec is not None else ""
        raise ConfigError(
            f"environment {env_id!r}: action_mask() of a reset state allows no action{where}; "
            "a mask must leave at least one legal action"
        )
