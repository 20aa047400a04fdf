"""Search spaces of a sweep: grid axes, random distributions and explicit lists, expanded into
the list of settings (field -> value) that the sweep trains."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from purejaxppo.config import HPARAM_FIELDS, ConfigError, check_hparam_value
from purejaxppo.loading import KNOWN_KEYS, did_you_mean

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
        raise ConfigError(f"unknown field {name!r} in the {where}{did_you_mean(name)}")


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
