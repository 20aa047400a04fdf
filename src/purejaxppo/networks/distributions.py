"""Action distributions built from a network's policy output; the only module importing distrax.

Beyond one Categorical or Gaussian: `MultiCategorical` (a `MultiDiscrete(nvec)` space, one
Categorical per component over its segment of the logits) and legal-action masks
(`action_distribution(dist, nvec, mask)`), which set illegal logits to the most negative
finite float: they are never sampled nor the mode, their probability is exactly 0, and the
entropy is that of the legal actions alone (no `0 * -inf`). A row (segment) with no legal
action falls back to the unmasked distribution: see `purejaxppo.action_masks`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import distrax
import jax
import jax.numpy as jnp

from purejaxppo.action_masks import split_segments, with_fallback

# dist_fn(dist, mask or None) -> dist: the network's distribution made the action space's
DistFn = Callable[[Any, jax.Array | None], Any]


class MultiCategorical:
    """Independent Categoricals over the segments of logits `[*batch, sum(nvec)]`; actions
    are int32 `[*batch, len(nvec)]`, log-probabilities and entropies `[*batch]` (sums of the
    components')."""

    def __init__(self, logits: jax.Array, nvec: Sequence[int]):
        self.logits = logits
        self.nvec = tuple(int(n) for n in nvec)
        self.parts = [distrax.Categorical(logits=x) for x in split_segments(logits, self.nvec)]

    def log_prob(self, action: jax.Array) -> jax.Array:
        """Sum over components of `log p_k(action[..., k])`, `[*batch]`."""
        return sum(p.log_prob(action[..., k]) for k, p in enumerate(self.parts))

    def entropy(self) -> jax.Array:
        """Sum of the components' entropies, `[*batch]`."""
        return sum(p.entropy() for p in self.parts)

    def sample(self, seed: jax.Array) -> jax.Array:
        """One action `[*batch, len(nvec)]` int32, each component drawn with its own key."""
        keys = jax.random.split(seed, len(self.parts))
        draws = [p.sample(seed=k) for p, k in zip(self.parts, keys, strict=True)]
        return jnp.stack(draws, axis=-1).astype(jnp.int32)

    def sample_and_log_prob(self, seed: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(action `[*batch, len(nvec)]`, its log-probability `[*batch]`)."""
        action = self.sample(seed)
        return action, self.log_prob(action)

    def mode(self) -> jax.Array:
        """The arg-max of every component, `[*batch, len(nvec)]` int32."""
        return jnp.stack([p.mode() for p in self.parts], axis=-1).astype(jnp.int32)


def is_distribution(x: Any) -> bool:
    """True if `x` is a distrax distribution or a `MultiCategorical` (a network may return
    one instead of raw outputs)."""
    return isinstance(x, (distrax.Distribution, MultiCategorical))


def as_distribution(
    policy: Any, discrete: bool, nvec: Sequence[int] | None = None
) -> distrax.Distribution | MultiCategorical:
    """The action distribution for a network's policy output.

    Args:
        policy: discrete actions: logits `[*batch, num_actions]` (`[*batch, sum(nvec)]` for a
            multi-discrete space); continuous actions: a pair `(mean [*batch, A], log_std
            [*batch, A] or [A])`; or a distribution, used as it is.
        discrete: the action space is `Discrete(n)` or `MultiDiscrete` (else a 1-D Box).
        nvec: the component sizes of a `MultiDiscrete` space, else None.

    Returns:
        A Categorical over the logits, a `MultiCategorical` (with `nvec`), or a diagonal
        Gaussian, with batch shape `[*batch]`.
    """
    if is_distribution(policy):
        return policy
    if discrete:
        return (
            distrax.Categorical(logits=policy) if nvec is None else MultiCategorical(policy, nvec)
        )
    mean, log_std = policy
    return distrax.MultivariateNormalDiag(mean, jnp.exp(log_std))


def mask_logits(logits: jax.Array, mask: jax.Array, nvec: Sequence[int] | None = None):
    """`logits [*batch, size]` with illegal entries (`mask` False) set to the most negative
    finite float, after `with_fallback` (a segment with no legal action stays unmasked)."""
    legal = with_fallback(mask.astype(bool), nvec)
    return jnp.where(legal, logits, jnp.finfo(logits.dtype).min)


def action_distribution(
    dist: Any, nvec: Sequence[int] | None = None, mask: jax.Array | None = None
) -> distrax.Distribution | MultiCategorical:
    """The network's distribution made the action space's: split into a `MultiCategorical`
    when `nvec` is given (a Categorical over `sum(nvec)` logits, as a recurrent network
    returns, is split), then restricted to the legal actions of `mask [*batch, size]`.
    With neither, `dist` itself is returned (the same bits as without this function).

    Raises:
        TypeError: a mask or `nvec` for a distribution that is not a Categorical.
    """
    if nvec is None and mask is None:
        return dist
    if not isinstance(dist, (distrax.Categorical, MultiCategorical)):
        raise TypeError(
            f"action masks and multi-discrete actions need a Categorical policy (logits); the "
            f"network gave a {type(dist).__name__}"
        )
    if nvec is not None and not isinstance(dist, MultiCategorical):
        dist = MultiCategorical(dist.logits, nvec)
    if mask is None:
        return dist
    if isinstance(dist, MultiCategorical):
        return MultiCategorical(mask_logits(dist.logits, mask, dist.nvec), dist.nvec)
    return distrax.Categorical(logits=mask_logits(dist.logits, mask))


def distribution_fn(nvec: Sequence[int] | None) -> DistFn:
    """`dist_fn(dist, mask) -> action_distribution(dist, nvec, mask)` for one action space."""
    nvec = None if nvec is None else tuple(nvec)
    return lambda dist, mask=None: action_distribution(dist, nvec, mask)


def sample_action(dist: Any, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Samples actions and their log-probabilities from `dist` (batch shape `[N]`)."""
    return dist.sample_and_log_prob(seed=key)


def greedy_action(dist: Any) -> jax.Array:
    """The most likely action: the arg-max logit (per component), or the Gaussian mean."""
    return dist.mode()
