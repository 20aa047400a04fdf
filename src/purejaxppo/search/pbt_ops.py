"""Population-based training's exploit and explore steps as pure `jax.numpy` functions.

The randomness is drawn in one place (`draw`) from an explicit key; the arithmetic
(`exploit_parents`, `explore`) takes those draws as arrays, so it can be checked against a
NumPy reference on known numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo.hparams import Hyperparams


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """How one searched hyperparameter is explored (static: part of the compiled program).

    `choices` non-empty: the field takes one of these sorted values; a perturbation moves one
    step down (factor < 1) or up (factor > 1), a resample draws one uniformly. Otherwise the
    field is continuous on [low, high]: a perturbation multiplies by a factor and clips, a
    resample draws uniformly (in log space when `log`).
    """

    name: str
    low: float
    high: float
    log: bool = False
    choices: tuple[float, ...] = ()


@dataclasses.dataclass(frozen=True)
class ExploreSpec:
    """The explore rule: the searched fields, the perturbation factors and the resample rate."""

    fields: tuple[FieldSpec, ...]
    factors: tuple[float, float] = (0.8, 1.2)
    resample_probability: float = 0.25


def bottom_count(population: int, quantile: float) -> int:
    """Members in the bottom (and in the top) quantile: floor(quantile * population), at least 1
    when the population has two or more members, and never more than half of it."""
    if population < 2:
        return 0
    return min(population // 2, max(1, int(np.floor(quantile * population))))


def ranking(scores: jax.Array) -> jax.Array:
    """`[P]` member indices, best score first; NaN scores (no finished episode) rank last and
    ties keep the lower index first (a stable sort)."""
    keyed = jnp.where(jnp.isnan(scores), -jnp.inf, scores)
    return jnp.argsort(-keyed, stable=True)


def exploit_parents(scores: jax.Array, quantile: float, u_parent: jax.Array) -> jax.Array:
    """Who copies whom.

    Args:
        scores: `[P]` float, higher is better.
        quantile: the share of members in the bottom (and top) group, see `bottom_count`.
        u_parent: `[P]` uniform draws in [0, 1): a bottom member i copies the top member at
            rank floor(u_parent[i] * n_top).

    Returns:
        `[P]` int32 parent per member: a bottom member's parent is drawn from the top group,
        every other member is its own parent.
    """
    population = scores.shape[0]
    n = bottom_count(population, quantile)
    order = ranking(scores)
    parents = jnp.arange(population, dtype=jnp.int32)
    if n == 0:
        return parents
    top, bottom = order[:n], order[population - n :]
    pick = jnp.minimum(jnp.floor(u_parent[bottom] * n).astype(jnp.int32), n - 1)
    return parents.at[bottom].set(top[pick].astype(jnp.int32))


def explore_field(
    spec: FieldSpec,
    value: jax.Array,
    u_resample: jax.Array,
    u_up: jax.Array,
    u_new: jax.Array,
    factors: tuple[float, float],
    resample_probability: float,
) -> jax.Array:
    """New values of one field for the members that copied: resampled where `u_resample <
    resample_probability`, else moved down (`u_up < 0.5`) or up by the factors, within bounds.

    Args:
        value: `[P]` the copied (parent's) values.
        u_resample, u_up, u_new: `[P]` uniform draws in [0, 1) (the last places a resample).

    Returns:
        `[P]` float32 explored values.
    """
    up = u_up >= 0.5
    resample = u_resample < resample_probability
    if spec.choices:
        choices = jnp.asarray(spec.choices, jnp.float32)
        count = len(spec.choices)
        index = jnp.argmin(jnp.abs(choices[None, :] - value[:, None]), axis=1)
        moved = jnp.clip(index + jnp.where(up, 1, -1), 0, count - 1)
        drawn = jnp.minimum(jnp.floor(u_new * count).astype(jnp.int32), count - 1)
        return choices[jnp.where(resample, drawn, moved)]
    low, high = spec.low, spec.high
    moved = jnp.clip(value * jnp.where(up, factors[1], factors[0]), low, high)
    if spec.log:
        drawn = jnp.exp(np.log(low) + u_new * (np.log(high) - np.log(low)))
    else:
        drawn = low + u_new * (high - low)
    return jnp.where(resample, drawn, moved).astype(jnp.float32)


def draw(key: jax.Array, population: int, num_fields: int) -> dict[str, jax.Array]:
    """Every uniform draw one exploit-and-explore step needs: "parent" `[P]`, and "resample",
    "up", "new" `[num_fields, P]`, all in [0, 1)."""
    k_parent, k_resample, k_up, k_new = jax.random.split(key, 4)
    shape = (num_fields, population)
    return {
        "parent": jax.random.uniform(k_parent, (population,)),
        "resample": jax.random.uniform(k_resample, shape),
        "up": jax.random.uniform(k_up, shape),
        "new": jax.random.uniform(k_new, shape),
    }


def explore(
    spec: ExploreSpec, hparams: Hyperparams, parents: jax.Array, draws: dict[str, jax.Array]
) -> Hyperparams:
    """The population's hyperparameters after exploit and explore.

    Args:
        hparams: leaves `[P]`, the values in force before the step.
        parents: `[P]` from `exploit_parents`.
        draws: from `draw` (only the rows of the searched fields are read).

    Returns:
        `Hyperparams` with leaves `[P]`: a member that copied gets its parent's values with every
        searched field explored; the others keep theirs. Unsearched fields are copied as they
        are (every member holds the same value of those).
    """
    copied = jax.tree.map(lambda x: x[parents], hparams)
    moved = parents != jnp.arange(parents.shape[0])
    changes = {}
    for row, field in enumerate(spec.fields):
        value = getattr(copied, field.name)
        new = explore_field(
            field,
            value,
            draws["resample"][row],
            draws["up"][row],
            draws["new"][row],
            spec.factors,
            spec.resample_probability,
        )
        changes[field.name] = jnp.where(moved, new, getattr(hparams, field.name))
    return copied.replace(**changes)


def copy_learner(state: Any, parents: jax.Array) -> Any:
    """The runner state with each member's learner taken from its parent: parameters, optimizer
    state, observation-normalizer statistics and the reward normalizer's statistics (leaves
    `[P, ...]`). Its environments, observation, recurrent carry, per-env discounted return and
    RNG stay its own, so a copy does not replay its parent's episodes."""

    def take(tree: Any) -> Any:
        return jax.tree.map(lambda x: x[parents], tree)

    scaler = state.reward_scaler
    return state.replace(
        params=take(state.params),
        opt_state=take(state.opt_state),
        obs_stats=take(state.obs_stats),
        reward_scaler=scaler.replace(stats=take(scaler.stats)),
    )


def exploit_and_explore(
    key: jax.Array,
    state: Any,
    hparams: Hyperparams,
    scores: jax.Array,
    quantile: float,
    spec: ExploreSpec,
) -> tuple[Any, Hyperparams, jax.Array]:
    """One PBT step over a population (pure; jit it with `quantile` and `spec` static).

    Returns:
        (runner state with copied learners, explored hyperparameters, `[P]` int32 parents).
    """
    draws = draw(key, scores.shape[0], max(1, len(spec.fields)))
    parents = exploit_parents(scores, quantile, draws["parent"])
    return copy_learner(state, parents), explore(spec, hparams, parents, draws), parents
