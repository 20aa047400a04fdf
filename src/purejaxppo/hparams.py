"""The traced hyperparameters (`Hyperparams`): the numbers a sweep varies in one program."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from flax import struct

from purejaxppo.errors import ConfigError


@struct.dataclass
class Hyperparams:
    """Numeric settings that never change shapes; pytree leaves, so `vmap` can sweep them.

    Every field is a float32 scalar inside `train` (a `[runs]` vector when stacked for a sweep).
    """

    lr: float = 2.5e-4  # Adam learning rate (the peak, when annealed)
    gamma: float = 0.99  # discount factor
    gae_lambda: float = 0.95  # GAE lambda: 0 is one-step TD, 1 is Monte Carlo
    clip_eps: float = 0.2  # PPO ratio clip range, also used for the value clip
    vf_coef: float = 0.5  # weight of the value loss in the total loss
    ent_coef: float = 0.01  # weight of the entropy bonus
    max_grad_norm: float = 0.5  # global gradient-norm clip before Adam
    target_kl: float = 0.0  # skip the rest of an update once approx KL exceeds this; 0 = off
    adam_eps: float = 1e-5  # Adam epsilon


HPARAM_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Hyperparams))

# (lower, upper, lower inclusive) for each hyperparameter; upper is inclusive.
HPARAM_RANGES: dict[str, tuple[float, float, bool]] = {
    "lr": (0.0, math.inf, False),
    "gamma": (0.0, 1.0, True),
    "gae_lambda": (0.0, 1.0, True),
    "clip_eps": (0.0, math.inf, False),
    "vf_coef": (0.0, math.inf, True),
    "ent_coef": (0.0, math.inf, True),
    "max_grad_norm": (0.0, math.inf, False),
    "target_kl": (0.0, math.inf, True),
    "adam_eps": (0.0, math.inf, False),
}


def check_hparam_value(name: str, value: Any) -> None:
    """Raises `ConfigError` unless every element of `value` is finite and in the field's range."""
    lower, upper, lower_inclusive = HPARAM_RANGES[name]
    array = np.asarray(value, dtype=np.float64)
    below = array < lower if lower_inclusive else array <= lower
    if np.any(~np.isfinite(array)) or np.any(below) or np.any(array > upper):
        bracket = "[" if lower_inclusive else "("
        raise ConfigError(
            f"{name}={value!r} is out of range: it must lie in {bracket}{lower:g}, {upper:g}]"
        )


def validate_hparams(hparams: Hyperparams) -> Hyperparams:
    """Checks every field's range (scalars or stacked vectors) and returns `hparams` unchanged."""
    for name in HPARAM_FIELDS:
        check_hparam_value(name, getattr(hparams, name))
    return hparams


def hparams_as_float32(hparams: Hyperparams) -> Hyperparams:
    """Returns `hparams` with every leaf a float32 NumPy array (scalar, or `[runs]` if stacked).

    Giving `jit` the same dtypes every call is what lets new values reuse one compiled program.
    """
    return Hyperparams(**{n: np.asarray(getattr(hparams, n), np.float32) for n in HPARAM_FIELDS})
