"""The PPO clipped-surrogate loss with value loss and entropy bonus, on one minibatch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from purejaxppo.types import LossInfo, Transition

# apply_fn(params, obs) -> (distribution, value); the distribution has log_prob and entropy.
ApplyFn = Callable[[Any, jax.Array], tuple[Any, jax.Array]]
# dist_fn(dist, mask or None) -> the action space's distribution (multi-discrete, masked)
DistFn = Callable[[Any, jax.Array | None], Any]


def normalize(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """Returns `x` shifted to zero mean and scaled to unit standard deviation (same shape)."""
    return (x - x.mean()) / (x.std() + eps)


def ppo_loss(
    params: Any,
    apply_fn: ApplyFn,
    batch: Transition,
    advantages: jax.Array,
    targets: jax.Array,
    clip_eps: jax.Array | float,
    vf_coef: jax.Array | float,
    ent_coef: jax.Array | float,
    clip_value_loss: bool = True,
    normalize_advantages: bool = True,
    dist_fn: DistFn | None = None,
) -> tuple[jax.Array, LossInfo]:
    """PPO loss for one minibatch of B transitions.

    total = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))
            + vf_coef * 0.5 * mean(max((V - target)^2, (V_clipped - target)^2))
            - ent_coef * mean(entropy),
    with ratio = exp(log_prob_new - log_prob_old) and V_clipped = v_old + clip(V - v_old, -eps, eps)
    (the unclipped squared error alone when `clip_value_loss` is False).

    Args:
        params: network parameters being optimized.
        apply_fn: `apply_fn(params, obs) -> (dist, value)`.
        batch: a `Transition` whose leaves are `[B, ...]` (obs, action, log_prob, value are read).
        advantages, targets: `[B]` GAE advantages and value targets.
        clip_eps, vf_coef, ent_coef: scalars (may be traced).
        clip_value_loss, normalize_advantages: static flags.
        dist_fn: applied to the network's distribution with `batch.action_mask` (`[B, size]`
            or None): a multi-discrete split and the legal-action mask, so log-probabilities
            renormalize over the legal actions and the entropy is theirs alone. None: the
            network's distribution as it is (then `batch.action_mask` must be None).

    Returns:
        (total loss scalar, `LossInfo` of scalars).
    """
    dist, value = apply_fn(params, batch.obs)
    if dist_fn is not None:
        dist = dist_fn(dist, batch.action_mask)
    elif batch.action_mask is not None:
        raise ValueError("ppo_loss: a batch with action_mask needs dist_fn to apply it")
    log_prob = dist.log_prob(batch.action)
    log_ratio = log_prob - batch.log_prob
    ratio = jnp.exp(log_ratio)

    adv = normalize(advantages) if normalize_advantages else advantages
    unclipped = ratio * adv
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv
    policy_loss = -jnp.minimum(unclipped, clipped).mean()

    value_error = jnp.square(value - targets)
    if clip_value_loss:
        value_clipped = batch.value + jnp.clip(value - batch.value, -clip_eps, clip_eps)
        value_error = jnp.maximum(value_error, jnp.square(value_clipped - targets))
    value_loss = 0.5 * value_error.mean()

    entropy = dist.entropy().mean()
    total = policy_loss + vf_coef * value_loss - ent_coef * entropy

    info = LossInfo(
        total=total,
        policy_loss=policy_loss,
        value_loss=value_loss,
        entropy=entropy,
        approx_kl=jax.lax.stop_gradient(((ratio - 1.0) - log_ratio).mean()),
        clip_fraction=jax.lax.stop_gradient((jnp.abs(ratio - 1.0) > clip_eps).mean()),
    )
    return total, info
