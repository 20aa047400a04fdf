"""Hyperparameter sweeps: search spaces expanded to stacked `Hyperparams`, run as one program."""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from purejaxppo.config import (
    HPARAM_FIELDS,
    ConfigError,
    Hyperparams,
    PPOConfig,
    check_hparam_value,
)
from purejaxppo.loading import KNOWN_KEYS
from purejaxppo.parallel import train_runs
from purejaxppo.sweep_plan import plan_groups
from purejaxppo.sweep_results import SweepResult

# Fields that change shapes or program structure: a grid over them compiles once per value.
STATIC_FIELDS: tuple[str, ...] = tuple(
    k for k in KNOWN_KEYS if k not in HPARAM_FIELDS and k != "reference_return"
)


@dataclasses.dataclass(frozen=True)
class Uniform:
    """Values drawn uniformly from [low, high]."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`[n]` float64 samples."""
        return rng.uniform(self.low, self.high, size=n)


@dataclasses.dataclass(frozen=True)
class LogUniform:
    """Values whose logarithm is uniform on [log low, log high] (0 < low <= high)."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`[n]` float64 samples."""
        return np.exp(rng.uniform(np.log(self.low), np.log(self.high), size=n))


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of `values`, each equally likely."""

    values: tuple[float, ...]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`[n]` float64 samples."""
        return np.asarray(self.values, dtype=np.float64)[rng.integers(0, len(self.values), n)]


Distribution = Uniform | LogUniform | Choice
# A grid / random space (field -> list of values or a Distribution), or an explicit list.
Space = Mapping[str, Any] | Sequence[Mapping[str, Any]]


def _check_field(name: Any, where: str) -> None:
    if name == "reference_return":
        raise ConfigError(f"reference_return is documentation only and cannot be swept ({where})")
    if name not in KNOWN_KEYS:
        close = difflib.get_close_matches(str(name), KNOWN_KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown field {name!r} in the {where}{hint}")


def _hparam_value(name: str, value: Any) -> float:
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, int | float | np.floating):
        raise ConfigError(f"{name} must be a number, got {value!r} in the sweep")
    check_hparam_value(name, number)
    return float(number)


def _check_distribution(name: str, dist: Any) -> Distribution:
    if name not in HPARAM_FIELDS:
        raise ConfigError(
            f"{name} is a static field (changing it recompiles), so it cannot be sampled at "
            f"random; give it a grid of values instead, e.g. --grid {name}=..."
        )
    if isinstance(dist, Choice):
        if not dist.values:
            raise ConfigError(f"the choice for {name} is empty; give at least one value")
        return Choice(tuple(_hparam_value(name, v) for v in dist.values))
    low, high = _hparam_value(name, dist.low), _hparam_value(name, dist.high)
    if low > high or (isinstance(dist, LogUniform) and low <= 0):
        raise ConfigError(
            f"{type(dist).__name__}({dist.low}, {dist.high}) for {name} is empty or invalid: "
            "it needs low <= high (and low > 0 for loguniform)"
        )
    return type(dist)(low, high)


def _setting(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = {}
    for name, value in values.items():
        _check_field(name, where)
        out[name] = _hparam_value(name, value) if name in HPARAM_FIELDS else value
    return out


def expand_space(
    space: Space, num_samples: int | None = None, sample_seed: int = 0
) -> list[dict[str, Any]]:
    """Expands a search space into its list of settings (field -> value), in a fixed order.

    Args:
        space: a mapping of field -> list of values (a grid axis) or a `Uniform` / `LogUniform` /
            `Choice` (sampled `num_samples` times, hyperparameters only), or an explicit list of
            settings (mappings). Grid axes and random fields combine as a product: every grid
            point gets the same `num_samples` random draws.
        num_samples: draws of the random fields.
        sample_seed: seed of the NumPy generator that draws them.

    Returns:
        The settings; hyperparameter values as floats, static values as given.

    Raises:
        ConfigError: an unknown field (with a suggestion), a static field with a distribution,
            an empty grid axis or list, or a value out of range.
    """
    if not isinstance(space, Mapping):
        if isinstance(space, str) or not isinstance(space, Sequence):
            raise ConfigError("a sweep space must be a mapping (grid/random) or a list of settings")
        if not space:
            raise ConfigError("the list of settings is empty; give at least one setting")
        return [_setting(s, f"setting {i + 1}") for i, s in enumerate(space)]
    grid, dists = {}, {}
    for name, axis in space.items():
        _check_field(name, "sweep space")
        if isinstance(axis, Uniform | LogUniform | Choice):
            dists[name] = _check_distribution(name, axis)
            continue
        values = list(axis) if isinstance(axis, list | tuple | np.ndarray) else [axis]
        if not values:
            raise ConfigError(f"the grid for {name} is empty; give at least one value")
        grid[name] = [_setting({name: v}, "grid")[name] for v in values]
    if dists and (num_samples is None or num_samples < 1):
        raise ConfigError(f"a random space needs num_samples >= 1 (--samples), got {num_samples}")
    if not dists and num_samples is not None:
        raise ConfigError("num_samples (--samples) applies to random fields only; none was given")
    rng = np.random.default_rng(sample_seed)
    draws = {name: dist.sample(rng, num_samples) for name, dist in dists.items()}
    points = [dict(zip(grid, p, strict=True)) for p in itertools.product(*grid.values())]
    if not dists:
        return points
    samples = [{n: float(d[i]) for n, d in draws.items()} for i in range(num_samples)]
    return [{**p, **s} for p in points for s in samples]


def sweep(
    config: PPOConfig,
    space: Space,
    num_seeds: int = 1,
    seed: int = 0,
    max_parallel: int | None = None,
    num_samples: int | None = None,
    sample_seed: int = 0,
    devices: Sequence[Any] | None = None,
    callbacks: Sequence[Any] = (),
) -> SweepResult:
    """Trains every setting of `space` with seeds `seed .. seed + num_seeds - 1`.

    Settings x seeds form one run axis per static config, run by one compiled
    `jit(vmap(train))` in calls of at most `max_parallel` runs (default: as many as the memory
    estimate allows), sharded over `devices` (default: all). Run (setting s, seed k) equals
    `train_seeds(config_s, 1, seed + k)`.

    Args:
        callbacks: objects with any of `on_group_start(index, num_groups, group, num_runs)` and
            the `train_runs` callback methods.

    Returns:
        `SweepResult` with per-setting metrics `[num_seeds, updates]` and the ranked statistics.
    """
    if isinstance(num_seeds, bool) or not isinstance(num_seeds, int) or num_seeds < 1:
        raise ConfigError(f"num_seeds must be a positive integer, got {num_seeds!r}")
    settings = expand_space(space, num_samples, sample_seed)
    configs, groups = plan_groups(config, settings, num_seeds, max_parallel)
    seeds = np.arange(seed, seed + num_seeds)
    metrics: list[dict[str, np.ndarray]] = [{} for _ in settings]
    timings = {"compile_seconds": 0.0, "run_seconds": 0.0, "env_steps": 0}
    for index, group in enumerate(groups):
        ids = group.setting_ids
        stacked = {
            n: np.array([getattr(configs[i].hparams, n) for i in ids]) for n in HPARAM_FIELDS
        }
        hparams = Hyperparams(**{n: np.repeat(v, num_seeds) for n, v in stacked.items()})
        for callback in callbacks:
            if hasattr(callback, "on_group_start"):
                callback.on_group_start(index, len(groups), group, len(ids) * num_seeds)
        out = train_runs(
            group.config, np.tile(seeds, len(ids)), hparams, group.max_parallel, devices, callbacks
        )
        for j, i in enumerate(ids):
            metrics[i] = {n: v[j * num_seeds : (j + 1) * num_seeds] for n, v in out.metrics.items()}
        timings["compile_seconds"] += out.compile_seconds
        timings["run_seconds"] += out.run_seconds
        timings["env_steps"] += len(ids) * num_seeds * group.config.env_steps_per_run
    return SweepResult(
        config=config,
        settings=settings,
        configs=configs,
        seeds=seeds,
        metrics=metrics,
        num_programs=len(groups),
        compile_seconds=timings["compile_seconds"],
        run_seconds=timings["run_seconds"],
        env_steps_per_second=timings["env_steps"] / max(timings["run_seconds"], 1e-9),
    )


__all__ = ["Choice", "LogUniform", "SweepResult", "Uniform", "expand_space", "plan_groups", "sweep"]
