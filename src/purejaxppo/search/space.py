"""The search space of an adaptive search (PBT, optuna), checked once for every strategy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from purejaxppo.config import ConfigError
from purejaxppo.hparams import HPARAM_FIELDS, check_hparam_value
from purejaxppo.sweep_space import Choice, LogUniform, Uniform


def _checked_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{name} must be searched over numbers, got {value!r}")
    check_hparam_value(name, value)
    return float(value)


def searchable_space(
    space: Mapping[str, Any], strategy: str
) -> dict[str, Uniform | LogUniform | Choice]:
    """Checks a space that a search moves inside one compiled program.

    Args:
        space: hyperparameter -> `Uniform`, `LogUniform`, `Choice` or a list of numbers.
        strategy: the search's name for the errors (`PBT`, `optuna`).

    Returns:
        The same fields in the same order, each a `Uniform`, `LogUniform` or `Choice` of floats
        (a list becomes a `Choice`).

    Raises:
        ConfigError: an empty space, a field that is not a hyperparameter (static fields change
            the program), an empty or inverted range, a non-positive log-uniform bound, a value
            out of the field's range.
    """
    if not isinstance(space, Mapping) or not space:
        raise ConfigError(
            f"the {strategy} space must be a non-empty mapping of hyperparameter -> distribution"
        )
    out: dict[str, Uniform | LogUniform | Choice] = {}
    for name, dist in space.items():
        if name not in HPARAM_FIELDS:
            raise ConfigError(
                f"{name!r} cannot be searched by {strategy}: only hyperparameters change inside "
                f"one program ({', '.join(HPARAM_FIELDS)}); set a static field in the config "
                "(--set) instead"
            )
        if isinstance(dist, Uniform | LogUniform):
            low, high = _checked_number(name, dist.low), _checked_number(name, dist.high)
            if low > high or (isinstance(dist, LogUniform) and low <= 0):
                raise ConfigError(
                    f"{type(dist).__name__}({dist.low}, {dist.high}) for {name} is empty or "
                    "invalid: it needs low <= high (and low > 0 for loguniform)"
                )
            out[name] = type(dist)(low, high)
            continue
        values = dist.values if isinstance(dist, Choice) else dist
        if (
            isinstance(values, str)
            or not isinstance(values, Sequence | np.ndarray)
            or not len(values)
        ):
            raise ConfigError(
                f"{name}: give Uniform, LogUniform, Choice or a non-empty list of values, got {dist!r}"
            )
        out[name] = Choice(tuple(_checked_number(name, v) for v in values))
    return out
