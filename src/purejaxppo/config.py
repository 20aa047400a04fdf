"""The static run configuration (`PPOConfig`); the traced hyperparameters live in `hparams`
and are re-exported here, as is `ConfigError`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from purejaxppo.errors import ConfigError, ConfigTypeError
from purejaxppo.hparams import (
    HPARAM_FIELDS,
    HPARAM_RANGES,
    Hyperparams,
    check_hparam_value,
    hparams_as_float32,
    validate_hparams,
)

__all__ = [
    "ACTIVATIONS",
    "ENV_FIELDS",
    "HPARAM_FIELDS",
    "HPARAM_RANGES",
    "ConfigError",
    "ConfigTypeError",
    "Hyperparams",
    "PPOConfig",
    "check_hparam_value",
    "frozen_items",
    "hparams_as_float32",
    "validate_hparams",
]

# Hidden activations by name; purejaxppo.networks.ACTIVATIONS maps each to its function.
ACTIVATIONS = ("tanh", "relu", "gelu", "silu", "swish", "elu", "leaky_relu")
RECURRENT = ("none", "gru", "lstm")  # the recurrent cell between the encoder and the heads
ENCODERS = ("mlp", "cnn")  # what reads the observation: flatten + MLP, or convolutions first
CNN_FIELDS = ("cnn_channels", "cnn_kernel_sizes", "cnn_strides")  # one entry per conv layer
ENV_FIELDS = ("env_id", "env_kwargs", "env_params")  # changing one drops a stale reference_return


@dataclasses.dataclass(frozen=True, kw_only=True)
class PPOConfig:
    """Everything that fixes shapes or program structure; changing it recompiles.

    Derived sizes: `batch_size` = num_envs * num_steps, `minibatch_size`, `num_updates`.
    """

    env_id: str = "CartPole-v1"  # a gymnax id, or one registered with purejaxppo.register_env
    env_kwargs: tuple[tuple[str, Any], ...] = ()  # keyword arguments for gymnax.make (a mapping)
    env_params: tuple[tuple[str, Any], ...] = ()  # fields of the env's params to override
    imports: tuple[str, ...] = ()  # modules imported before the env and network are made
    num_envs: int = 4  # environments stepped in parallel per run
    num_steps: int = 128  # steps per environment per rollout
    total_timesteps: int = 500_000  # env-step budget per run; rounded down to whole updates
    update_epochs: int = 4  # passes over each rollout
    num_minibatches: int = 4  # minibatches per epoch; must divide num_envs * num_steps
    # Your own flax module (see purejaxppo.networks.contract): "package.module:attribute" or,
    # from Python, the object itself; None is the built-in MLP actor-critic below.
    network: Any = None
    network_kwargs: tuple[tuple[str, Any], ...] = ()  # keyword arguments of its class/factory
    hidden_sizes: tuple[int, ...] = (64, 64)  # MLP widths of actor and critic
    activation: str = "tanh"  # hidden activation, one of ACTIVATIONS
    shared_network: bool = False  # one trunk for actor and critic instead of two MLPs
    encoder: str = "mlp"  # mlp: flat observation -> MLP; cnn: convolutions over [H, W, C] first
    # encoder: cnn's layers, for 10x10 MinAtar: stride 1 keeps 1-cell objects, 2 halves the grid
    cnn_channels: tuple[int, ...] = (16, 32)  # output channels of each conv layer
    cnn_kernel_sizes: tuple[int, ...] = (3, 3)  # square kernel size of each conv layer
    cnn_strides: tuple[int, ...] = (1, 2)  # stride of each conv layer ("SAME" padding)
    recurrent: str = "none"  # a GRU or LSTM cell after the encoder: none, gru or lstm
    recurrent_size: int = 128  # features of the recurrent cell's carry
    obs_mask: tuple[int, ...] = ()  # flat observation entries the agent never sees (zeroed)
    log_std_init: float | None = None  # Gaussian policy's initial log std (continuous only; 0)
    anneal_lr: bool = True  # decay the learning rate linearly to 0 over all optimizer steps
    clip_value_loss: bool = True  # clip the value prediction around the old value by clip_eps
    normalize_advantages: bool = True  # zero-mean, unit-std advantages per minibatch
    normalize_observations: bool = False  # running mean/std observation normalization
    normalize_rewards: bool = False  # scale rewards by the running std of the discounted return
    obs_clip: float = 10.0  # clip normalized observations to [-obs_clip, obs_clip]
    reward_clip: float = 10.0  # clip scaled rewards to [-reward_clip, reward_clip]
    bootstrap_truncated: bool = True  # False treats time-limit truncation as termination
    eval_every: int = 0  # evaluate on fresh environments every this many updates; 0 = never
    eval_episodes: int = 10  # episodes per evaluation (one per parallel environment)
    eval_deterministic: bool = True  # evaluate the greedy action (else sample the policy)
    eval_max_steps: int = 0  # steps an evaluation episode may last; 0 = the env's episode limit
    hparams: Hyperparams = dataclasses.field(default_factory=Hyperparams)  # traced defaults
    # The mean final return this config is expected to reach at its budget; documentation only.
    reference_return: float | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("env_kwargs", "env_params", "network_kwargs"):
            object.__setattr__(self, name, frozen_items(getattr(self, name), name))
        if isinstance(self.imports, str):
            object.__setattr__(self, "imports", (self.imports,))
        for name in ("imports", "hidden_sizes", "obs_mask", *CNN_FIELDS):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        self._validate()

    def _validate(self) -> None:
        positive = ("num_envs", "num_steps", "total_timesteps", "update_epochs", "num_minibatches")
        for name in (*positive, "eval_episodes", "recurrent_size"):
            _check_count(name, getattr(self, name), 1, "a positive integer")
        _check_count("eval_every", self.eval_every, 0, "0 (off) or a positive number of updates")
        _check_count("eval_max_steps", self.eval_max_steps, 0, "0 (the env's limit) or more")
        _check_choice("recurrent", self.recurrent, RECURRENT)
        _check_choice("encoder", self.encoder, ENCODERS)
        _check_ints("obs_mask", self.obs_mask, 0, "a list of observation indices (integers >= 0)")
        for name in ("hidden_sizes", *CNN_FIELDS):
            _check_ints(name, getattr(self, name), 1, "a non-empty list of positive integers")
        if len({len(getattr(self, name)) for name in CNN_FIELDS}) > 1:
            sizes = ", ".join(f"{name}={list(getattr(self, name))}" for name in CNN_FIELDS)
            raise ConfigError(f"{sizes} must have one entry per conv layer (the same length)")
        if self.recurrent != "none" and self.num_envs % self.num_minibatches:
            raise ConfigError(
                f"a recurrent policy's minibatches split the environments, never time: "
                f"num_envs={self.num_envs} does not divide into num_minibatches="
                f"{self.num_minibatches}; pick num_minibatches among {_divisors(self.num_envs)}"
            )
        _check_choice("activation", self.activation, ACTIVATIONS)
        if any(not isinstance(m, str) or not m for m in self.imports):
            raise ConfigError(f"imports must be a list of module names, got {list(self.imports)!r}")
        self._validate_network()
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

    def _validate_network(self) -> None:
        if self.network is None:
            return
        try:
            hash(self.network)
        except TypeError:
            raise ConfigError(
                "network must be hashable: a Module, class, function or string"
            ) from None
        if not (isinstance(self.network, str) or callable(self.network)):
            raise ConfigError(
                f"network must be 'package.module:attribute', a flax Module or a factory, got "
                f"{type(self.network).__name__}"
            )
        if self.log_std_init is not None:
            raise ConfigError(
                "log_std_init applies to the built-in network only; your network sets its own "
                "log_std: remove log_std_init"
            )

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

    @property
    def env_params_dict(self) -> dict[str, Any]:
        """`env_params` overrides as a plain dict."""
        return dict(self.env_params)

    @property
    def network_kwargs_dict(self) -> dict[str, Any]:
        """`network_kwargs` as a plain dict."""
        return dict(self.network_kwargs)

    def replace(self, **changes: Any) -> PPOConfig:
        """Returns a copy with `changes` applied (hyperparameter names go into `hparams`).

        Changing the environment (`env_id`, `env_kwargs` or `env_params`) drops
        `reference_return` unless `changes` gives one: it belonged to the old environment."""
        hp_changes = {k: changes.pop(k) for k in list(changes) if k in HPARAM_FIELDS}
        if hp_changes:
            changes["hparams"] = changes.get("hparams", self.hparams).replace(**hp_changes)
        new = dataclasses.replace(self, **changes)
        if "reference_return" not in changes and any(
            getattr(new, f) != getattr(self, f) for f in ENV_FIELDS
        ):
            object.__setattr__(new, "reference_return", None)
        return new


def frozen_items(value: Any, name: str = "value") -> tuple[tuple[str, Any], ...]:
    """A mapping (or its items) as sorted, hashable `(key, value)` pairs; lists become tuples."""
    value = value.items() if isinstance(value, Mapping) else value
    try:
        return tuple(sorted((str(k), _frozen(v)) for k, v in value))
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a mapping of name: value, got {value!r}") from None


def _frozen(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, Mapping):
        return frozen_items(value)
    return value


def _check_count(name: str, value: Any, minimum: int, kind: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be {kind}, got {value!r}")


def _check_ints(name: str, values: tuple[Any, ...], minimum: int, kind: str) -> None:
    bad = any(isinstance(i, bool) or not isinstance(i, int) or i < minimum for i in values)
    if bad or (minimum > 0 and not values):
        raise ConfigError(f"{name} must be {kind}, got {list(values)!r}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        from purejaxppo.config_keys import did_you_mean  # it imports this module

        hint = did_you_mean(value, choices)
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}{hint}")


def _divisors(n: int) -> str:
    found = [d for d in range(1, n + 1) if n % d == 0]
    shown = found if len(found) <= 16 else found[:15] + ["...", found[-1]]
    return ", ".join(str(d) for d in shown)
