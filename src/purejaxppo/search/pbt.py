"""Population-based training (Jaderberg et al. 2017) on the run axis of a sweep.

Every `ready_every` updates the members are ranked by their mean training return over the last
window of updates; each member of the bottom quantile copies the learner (parameters, optimizer
state, normalizer statistics) of a member drawn from the top quantile, then perturbs the copied
hyperparameters (x0.8 or x1.2, or a fresh draw with some probability) within the space's
bounds. A member's learning rate is its own current value; annealing, if on, applies on top
(the schedule multiplies whatever `lr` is in force by the remaining fraction of updates).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from purejaxppo.config import ConfigError, Hyperparams, PPOConfig
from purejaxppo.hparams import HPARAM_FIELDS
from purejaxppo.results import final_return
from purejaxppo.search.pbt_ops import ExploreSpec, FieldSpec, exploit_and_explore
from purejaxppo.search.population import PopulationRun, PopulationState, train_population
from purejaxppo.search.space import searchable_space
from purejaxppo.sweep_space import Choice, LogUniform, Uniform, expand_space


@dataclasses.dataclass(frozen=True)
class PBTOptions:
    """The PBT rule (defaults as in Jaderberg et al. 2017's truncation selection)."""

    ready_every: int = 10  # updates between exploit-and-explore steps
    quantile: float = 0.25  # bottom members that copy, and top members they copy from
    factors: tuple[float, float] = (0.8, 1.2)  # perturbation factors
    resample_probability: float = 0.25  # chance a copied field is drawn afresh instead
    window: int | None = None  # updates whose returns score a member (default ready_every)

    def check(self, num_updates: int) -> None:
        """Raises `ConfigError` with the fix for a setting that cannot work."""
        if self.ready_every < 1:
            raise ConfigError(
                f"ready_every must be a positive number of updates, got {self.ready_every}"
            )
        if self.ready_every >= num_updates:
            raise ConfigError(
                f"ready_every={self.ready_every} leaves no exploit step in a run of {num_updates} "
                "updates; give fewer updates per interval or more total_timesteps"
            )
        if not 0.0 < self.quantile <= 0.5:
            raise ConfigError(f"quantile must lie in (0, 0.5], got {self.quantile}")
        low, high = self.factors
        if not 0.0 < low < 1.0 < high:
            raise ConfigError(
                f"factors must be (down, up) with 0 < down < 1 < up, got {self.factors}"
            )
        if not 0.0 <= self.resample_probability <= 1.0:
            raise ConfigError(
                f"resample_probability must lie in [0, 1], got {self.resample_probability}"
            )
        if self.window is not None and self.window < 1:
            raise ConfigError(f"window must be a positive number of updates, got {self.window}")


def explore_spec(space: Mapping[str, Any], options: PBTOptions) -> ExploreSpec:
    """The searched fields of a PBT space: `Uniform` / `LogUniform` give bounds, `Choice` or a
    list of values gives the sorted values a field moves between."""
    fields = []
    for name, dist in searchable_space(space, "PBT").items():
        if isinstance(dist, Choice):
            values = tuple(sorted(dist.values))
            fields.append(FieldSpec(name, values[0], values[-1], choices=values))
        else:
            fields.append(FieldSpec(name, dist.low, dist.high, isinstance(dist, LogUniform)))
    return ExploreSpec(tuple(fields), tuple(options.factors), options.resample_probability)


def initial_hparams(
    config: PPOConfig, space: Mapping[str, Any], population: int, sample_seed: int
) -> Hyperparams:
    """`Hyperparams` with leaves `[population]`: the config's values, the searched fields drawn
    from the space (lists drawn as choices) by NumPy's generator seeded with `sample_seed`."""
    dists = {
        n: d if isinstance(d, Uniform | LogUniform | Choice) else Choice(tuple(d))
        for n, d in space.items()
    }
    settings = expand_space(dists, population, sample_seed)
    base = config.hparams
    return Hyperparams(
        **{
            n: np.asarray([s.get(n, getattr(base, n)) for s in settings], np.float32)
            for n in HPARAM_FIELDS
        }
    )


def check_pbt(
    config: PPOConfig, space: Mapping[str, Any], population: int, options: PBTOptions
) -> ExploreSpec:
    """Raises `ConfigError` (one line, with the fix) for a PBT search that cannot run; returns
    its `ExploreSpec` otherwise. Nothing is compiled or written."""
    if isinstance(population, bool) or not isinstance(population, int) or population < 2:
        raise ConfigError(f"a PBT population needs at least 2 members, got {population!r}")
    options.check(config.num_updates)
    return explore_spec(space, options)


@functools.lru_cache(maxsize=16)
def _jitted_step(quantile: float, spec: ExploreSpec):
    return jax.jit(functools.partial(exploit_and_explore, quantile=quantile, spec=spec))


def pbt_step(search_seed: int, quantile: float, spec: ExploreSpec):
    """The population step of PBT: exploit and explore with the key
    `fold_in(PRNGKey(search_seed), interval)`, so a run's history depends on its seeds only."""
    step = _jitted_step(quantile, spec)

    def run(state: Any, hparams: Hyperparams, scores: np.ndarray, interval: int):
        key = jax.random.fold_in(jax.random.PRNGKey(search_seed), interval)
        return step(key, state, hparams, scores)

    return run


@dataclasses.dataclass
class PBTResult:
    """A PBT run: the population's metrics and lineage, the best member and its schedule."""

    run: PopulationRun
    space_fields: tuple[str, ...]
    state: PopulationState  # what a resume continues from

    @property
    def final_returns(self) -> np.ndarray:
        """`[P]` final return per member (mean training return over the last 10% of updates)."""
        return final_return(self.run.metrics["episode_return"])

    @property
    def best_member(self) -> int:
        """The member with the highest final return (the lower index on a tie)."""
        finals = np.where(np.isnan(self.final_returns), -np.inf, self.final_returns)
        return int(np.argmax(finals))

    def ancestry(self, member: int | None = None) -> np.ndarray:
        """`[T]` the member whose hyperparameters and learner `member` (default the best)
        carried in each interval, read back through the parents."""
        member = self.best_member if member is None else member
        parents = self.run.lineage["parent"]
        chain = np.zeros(parents.shape[0], np.int64)
        for t in range(parents.shape[0] - 1, -1, -1):
            chain[t] = member
            member = int(parents[t, member])
        return chain

    def schedule(self, member: int | None = None) -> list[dict[str, float]]:
        """The hyperparameter schedule of `member` (default the best): one entry per interval,
        `{"start_update": u, field: value, ...}` for the searched fields in force from update u
        on (0-based count of updates done before the interval)."""
        lineage = self.run.lineage
        chain = self.ancestry(member)
        return [
            {"start_update": int(lineage["start_update"][t])}
            # the shortest decimal that reads back as the same float32 (0.01, not 0.00999...)
            | {n: float(str(np.float32(lineage[n][t, chain[t]]))) for n in self.space_fields}
            for t in range(chain.shape[0])
        ]


def pbt(
    config: PPOConfig,
    space: Mapping[str, Any],
    population: int,
    ready_every: int = 10,
    quantile: float = 0.25,
    factors: tuple[float, float] = (0.8, 1.2),
    resample_probability: float = 0.25,
    window: int | None = None,
    seed: int = 0,
    search_seed: int = 0,
    callbacks: Sequence[Any] = (),
    resume: PopulationState | None = None,
    stop: threading.Event | None = None,
    stop_after: int | None = None,
) -> PBTResult:
    """Trains a population of `population` members (member i from `PRNGKey(seed + i)`) with PBT.

    Args:
        space: hyperparameter -> `Uniform` / `LogUniform` / `Choice` (or a list of values): the
            initial draws (NumPy generator seeded with `search_seed`) and the explore bounds.
        ready_every: updates between exploit-and-explore steps.
        quantile: the bottom members that copy, and the top members they copy from (a share).
        factors: (down, up) perturbation factors.
        resample_probability: the chance a copied field is drawn afresh instead.
        window: updates whose training returns score a member (default `ready_every`).
        search_seed: seeds the initial draws and every exploit-and-explore step.
        callbacks, resume, stop, stop_after: as `train_population`.

    Returns:
        `PBTResult`; the same arguments give the same lineage and metrics, bit for bit, and a
        run resumed from its `state` equals one uninterrupted run.
    """
    options = PBTOptions(ready_every, quantile, tuple(factors), resample_probability, window)
    spec = check_pbt(config, space, population, options)
    hparams = initial_hparams(config, space, population, search_seed)
    run, state = train_population(
        config,
        hparams,
        np.arange(seed, seed + population),
        options.ready_every,
        pbt_step(search_seed, options.quantile, spec),
        window=options.window,
        callbacks=callbacks,
        resume=resume,
        stop=stop,
        stop_after=stop_after,
    )
    return PBTResult(run, tuple(f.name for f in spec.fields), state)
