"""Action distributions built from a network's policy output; the only module importing distrax."""

from __future__ import annotations

from typing import Any

import distrax
import jax
import jax.numpy as jnp


def is_distribution(x: Any) -> bool:
    """True if `x` is a distrax distribution (a network may return one instead of raw outputs)."""
    return isinstance(x, distrax.Distribution)


def as_distribution(policy: Any, discrete: bool) -> distrax.Distribution:
    """The action distribution for a network's policy output.

    Args:
        policy: discrete actions: logits `[*batch, num_actions]`; continuous actions: a pair
            `(mean [*batch, A], log_std [*batch, A] or [A])`; or a distrax distribution, used
            as it is.
        discrete: the action space is `Discrete(n)` (else a 1-D Box).

    Returns:
        A Categorical over the logits, or a diagonal Gaussian with batch shape `[*batch]`.
    """
    if is_distribution(policy):
        return policy
    if discrete:
        return distrax.Categorical(logits=policy)
    mean, log_std = policy
    return distrax.MultivariateNormalDiag(mean, jnp.exp(log_std))


def sample_action(dist: distrax.Distribution, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Samples actions and their log-probabilities from `dist` (batch shape `[N]`)."""
    return dist.sample_and_log_prob(seed=key)


def greedy_action(dist: Any) -> jax.Array:
    """The most likely action: the arg-max logit, or the Gaussian mean."""
    return dist.mode()
