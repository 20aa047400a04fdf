"""The static run configuration (`PPOConfig`) and the traced hyperparameters (`Hyperparams`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from flax import struct


class ConfigError(ValueError):
    """A configuration or input problem, described in one line that names the fix."""


class ConfigTypeError(ConfigError, TypeError):
    """A configuration value of the wrong type."""


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


ACTIVATIONS = ("tanh", "relu")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PPOConfig:
    """Everything that fixes shapes or program structure; changing it recompiles.

    Derived sizes: `batch_size` = num_envs * num_steps, `minibatch_size`, `num_updates`.
    """

    env_id: str = "CartPole-v1"  # a gymnax environment id
    env_kwargs: tuple[tuple[str, Any], ...] = ()  # keyword arguments for gymnax.make (a mapping)
    num_envs: int = 4  # environments stepped in parallel per run
    num_steps: int = 128  # steps per environment per rollout
    total_timesteps: int = 500_000  # env-step budget per run; rounded down to whole updates
    update_epochs: int = 4  # passes over each rollout
    num_minibatches: int = 4  # minibatches per epoch; must divide num_envs * num_steps
    hidden_sizes: tuple[int, ...] = (64, 64)  # MLP widths of actor and critic
    activation: str = "tanh"  # hidden activation: tanh or relu
    shared_network: bool = False  # one trunk for actor and critic instead of two MLPs
    log_std_init: float | None = None  # Gaussian policy's initial log std (continuous only; 0)
    anneal_lr: bool = True  # decay the learning rate linearly to 0 over all optimizer steps
    clip_value_loss: bool = True  # clip the value prediction around the old value by clip_eps
    normalize_advantages: bool = True  # zero-mean, unit-std advantages per minibatch
    normalize_observations: bool = False  # running mean/std observation normalization
    normalize_rewards: bool = False  # scale rewards by the running std of the discounted return
    obs_clip: float = 10.0  # clip normalized observations to [-obs_clip, obs_clip]
    reward_clip: float = 10.0  # clip scaled rewards to [-reward_clip, reward_clip]
    bootstrap_truncated: bool = True  # False treats time-limit truncation as termination
    hparams: Hyperparams = dataclasses.field(default_factory=Hyperparams)  # traced defaults
    # The mean final return this config is expected to reach at its budget; documentation only.
    reference_return: float | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.env_kwargs, Mapping):
            object.__setattr__(self, "env_kwargs", tuple(sorted(self.env_kwargs.items())))
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        self._validate()

    def _validate(self) -> None:
        for name in (
            "num_envs",
            "num_steps",
            "total_timesteps",
            "update_epochs",
            "num_minibatches",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not self.hidden_sizes or any(
            isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in self.hidden_sizes
        ):
            raise ConfigError(
                f"hidden_sizes must be a non-empty list of positive integers, got "
                f"{list(self.hidden_sizes)!r}"
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )
        for name in ("obs_clip", "reward_clip"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.batch_size % self.num_minibatches:
            raise ConfigError(
                f"num_envs * num_steps = {self.batch_size} does not divide into "
                f"num_minibatches={self.num_minibatches}; pick num_minibatches among "
                f"{_divisors(self.batch_size)}"
            )
        if self.total_timesteps < self.batch_size:
            raise ConfigError(
                f"total_timesteps={self.total_timesteps} is smaller than one update "
                f"(num_envs * num_steps = {self.batch_size}); raise total_timesteps to at least "
                f"{self.batch_size}"
            )
        validate_hparams(self.hparams)

    @property
    def batch_size(self) -> int:
        """Transitions per update: num_envs * num_steps."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        """Transitions per minibatch."""
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        """Rollout-and-update iterations in one run."""
        return self.total_timesteps // self.batch_size

    @property
    def env_steps_per_run(self) -> int:
        """Environment steps one run actually takes (the budget rounded down to whole updates)."""
        return self.num_updates * self.batch_size

    @property
    def env_kwargs_dict(self) -> dict[str, Any]:
        """`env_kwargs` as a plain dict."""
        return dict(self.env_kwargs)

    def replace(self, **changes: Any) -> PPOConfig:
        """Returns a copy with `changes` applied (hyperparameter names go into `hparams`)."""
        hp_changes = {k: changes.pop(k) for k in list(changes) if k in HPARAM_FIELDS}
        if hp_changes:
            changes["hparams"] = changes.get("hparams", self.hparams).replace(**hp_changes)
        return dataclasses.replace(self, **changes)


def _divisors(n: int) -> str:
    found = [d for d in range(1, n + 1) if n % d == 0]
    shown = found if len(found) <= 16 else found[:15] + ["...", found[-1]]
    return ", ".join(str(d) for d in shown)
