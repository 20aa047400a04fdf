"""Truncation-aware generalized advantage estimation, computed with a reverse `lax.scan`."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(
    reward: jax.Array,
    value: jax.Array,
    next_value: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: jax.Array | float,
    lam: jax.Array | float,
) -> tuple[jax.Array, jax.Array]:
    """Generalized advantage estimates and value targets for one rollout.

    Time index convention, for step t of the rollout:
      `r_t` reward after acting in `s_t`; `v_t` = V(s_t); `next_value_t` = V(s_{t+1}) where
      s_{t+1} is the observation that step t produced *before* any auto-reset (for a truncated
      episode that is the final observation; for the last step, the bootstrap value).

      delta_t = r_t + gamma * (1 - terminated_t) * next_value_t - v_t
      A_t     = delta_t + gamma * lam * (1 - done_t) * A_{t+1},   done_t = terminated_t | truncated_t

    A terminal state contributes no bootstrap; a truncated one bootstraps from its final
    observation's value; neither lets advantage flow across the episode boundary.

    Args:
        reward, value, next_value: `[T, ...]` float arrays (any trailing batch shape).
        terminated, truncated: `[T, ...]` bool (or 0/1) arrays.
        gamma, lam: scalars (may be traced).

    Returns:
        (advantages, targets), both `[T, ...]`; targets = advantages + value.
    """
    terminated = terminated.astype(reward.dtype)
    done = jnp.maximum(terminated, truncated.astype(reward.dtype))
    delta = reward + gamma * (1.0 - terminated) * next_value - value
    decay = gamma * lam * (1.0 - done)

    def backward(next_advantage, step):
        delta_t, decay_t = step
        advantage = delta_t + decay_t * next_advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(delta[0]), (delta, decay), reverse=True)
    return advantages, advantages + value


def bootstrap_values(
    value: jax.Array, final_value: jax.Array, last_value: jax.Array, done: jax.Array
) -> jax.Array:
    """`next_value` for `gae`: V(s_{t+1}) from the next step's value, or the final observation's.

    Args:
        value: `[T, N]` values of the observations acted on.
        final_value: `[T, N]` values of the pre-reset observations each step produced.
        last_value: `[N]` value of the observation after the last step.
        done: `[T, N]` bool, where the next stored observation belongs to a new episode.

    Returns:
        `[T, N]`: `final_value` where `done`, else the following step's value.
    """
    following = jnp.concatenate([value[1:], last_value[None]], axis=0)
    return jnp.where(done, final_value, following)
