"""Running observation normalization and reward scaling whose statistics live in the runner state."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from purejaxppo.types import RewardScaler, RunningStats

_EPS = 1e-8


def init_stats(shape: tuple[int, ...]) -> RunningStats:
    """Statistics of nothing seen yet: mean 0, variance 1, a tiny pseudo-count."""
    return RunningStats(
        mean=jnp.zeros(shape, jnp.float32),
        var=jnp.ones(shape, jnp.float32),
        count=jnp.float32(1e-4),
    )


def update_stats(stats: RunningStats, batch: jax.Array) -> RunningStats:
    """Merges a batch `[B, *shape]` into the running statistics (parallel-variance update)."""
    batch = batch.astype(jnp.float32)
    batch_mean = batch.mean(axis=0)
    batch_var = batch.var(axis=0)
    batch_count = jnp.float32(batch.shape[0])
    total = stats.count + batch_count
    delta = batch_mean - stats.mean
    mean = stats.mean + delta * batch_count / total
    m2 = (
        stats.var * stats.count
        + batch_var * batch_count
        + delta**2 * stats.count * batch_count / total
    )
    return RunningStats(mean=mean, var=m2 / total, count=total)


def normalize_obs(stats: RunningStats, obs: jax.Array, clip: float) -> jax.Array:
    """Returns `(obs - mean) / sqrt(var + eps)` clipped to [-clip, clip], shaped like `obs`."""
    return jnp.clip((obs - stats.mean) / jnp.sqrt(stats.var + _EPS), -clip, clip)


def init_reward_scaler(num_envs: int) -> RewardScaler:
    """A reward scaler with zeroed per-env discounted returns."""
    return RewardScaler(discounted_return=jnp.zeros((num_envs,), jnp.float32), stats=init_stats(()))


def scale_reward(
    scaler: RewardScaler,
    reward: jax.Array,
    done: jax.Array,
    gamma: jax.Array | float,
    clip: float,
) -> tuple[RewardScaler, jax.Array]:
    """Divides rewards `[N]` by the running std of the discounted return (not its mean).

    The per-env discounted return is updated with this step's reward first, and restarts at
    zero after an episode ends.

    Returns:
        (updated scaler, scaled rewards `[N]` clipped to [-clip, clip]).
    """
    discounted = scaler.discounted_return * gamma + reward
    stats = update_stats(scaler.stats, discounted)
    scaled = jnp.clip(reward / jnp.sqrt(stats.var + _EPS), -clip, clip)
    discounted = jnp.where(done, 0.0, discounted)
    return RewardScaler(discounted_return=discounted, stats=stats), scaled
