"""What a network must accept and return to be trained here, and the checks that say so early.

The contract, for the built-in `ActorCritic` and any flax linen module of yours alike:

- It is called as `module.apply(params, obs)` with float32 observations `[batch, *obs_shape]`
  (normalized first if `normalize_observations` is on) and initialised with
  `module.init(key, obs)` on a `[1, *obs_shape]` batch of zeros.
- It returns `(policy, value)`:
  - `value`: float `[batch]`, the critic's estimate;
  - discrete actions (`Discrete(n)`): `policy` is logits `[batch, n]` (a Categorical);
  - multi-discrete actions (`MultiDiscrete(nvec)`): `policy` is logits `[batch, sum(nvec)]`,
    split by `nvec` into one Categorical per component (`spec.nvec`; actions `[batch,
    len(nvec)]`); `spec.action_size` is `sum(nvec)`;
  - continuous actions (1-D Box of size A): `policy` is a pair `(mean [batch, A],
    log_std [batch, A] or [A])`, a diagonal Gaussian; actions are clipped to the bounds by
    the environment wrapper, log-probabilities are those of the unclipped sample.
- Legal-action masks (an environment's `action_mask`) are applied by the trainer to the
  distribution, never seen by the network: it returns logits for every action.
- Actor and critic may share layers or not; use `purejaxppo.networks.orthogonal` rather than
  `nn.initializers.orthogonal` (the latter can deadlock on CPU when vmapped over many seeds).
- Your network is feed-forward: recurrent policies are the built-in ones of
  `purejaxppo.networks.recurrent` (`recurrent: gru|lstm`), whose carry convention is there.

A config names a network with `network: package.module:attribute` (or `make_train(config,
network=...)` takes the object). The attribute may be a linen Module instance (used as is), a
Module class (built with `network_kwargs`, plus `action_size`, `discrete` and `obs_shape`
where the class declares those fields), or a factory `factory(spec: NetworkSpec,
**network_kwargs) -> Module`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from purejaxppo.config import ConfigError
from purejaxppo.networks.distributions import as_distribution
from purejaxppo.networks.initializers import warn_if_plain_qr


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """What a network factory is told about the task (and the config's MLP settings)."""

    obs_shape: tuple[int, ...]  # one observation, without the batch axis
    action_size: int  # number of logits (discrete: n, or sum(nvec)) or action dimensions
    discrete: bool
    hidden_sizes: tuple[int, ...] = (64, 64)  # the config's hidden_sizes, a factory may use it
    activation: str = "tanh"  # the config's activation name
    nvec: tuple[int, ...] | None = None  # MultiDiscrete(nvec) component sizes, else None


@dataclasses.dataclass(frozen=True)
class PolicyNetwork:
    """A contract-following module plus the distribution it implies: what the trainer calls.

    `flatten_batch`: reshape any leading axes of `obs` into one batch axis around the module
    call (user modules see exactly `[batch, *obs_shape]`; the built-in takes any leading axes).
    """

    module: nn.Module
    spec: NetworkSpec
    flatten_batch: bool = True

    def init(self, key: jax.Array, obs: jax.Array) -> Any:
        """The module's variables for observations shaped like `obs` (`[1, *obs_shape]`)."""
        return self.module.init(key, obs)

    def outputs(self, params: Any, obs: jax.Array) -> tuple[Any, jax.Array]:
        """Raw `(policy, value)` for observations `[*batch, *obs_shape]`, batch axes kept."""
        if not self.flatten_batch:
            return self.module.apply(params, obs)
        batch = obs.shape[: obs.ndim - len(self.spec.obs_shape)]
        flat = obs.reshape((math.prod(batch), *self.spec.obs_shape))
        policy, value = self.module.apply(params, flat)
        unflat = lambda x: x.reshape(batch + x.shape[1:]) if x.ndim else x  # noqa: E731
        if isinstance(policy, tuple):
            mean, log_std = policy
            policy = (unflat(mean), unflat(log_std) if log_std.ndim == 2 else log_std)
        else:
            policy = unflat(policy)
        return policy, unflat(value)

    def apply(self, params: Any, obs: jax.Array):
        """`(action distribution with batch shape [*batch], value [*batch])` for `obs`."""
        policy, value = self.outputs(params, obs)
        return as_distribution(policy, self.spec.discrete, self.spec.nvec), value


def resolve_reference(reference: str) -> Any:
    """Imports `"package.module:attribute"` (the attribute may be dotted) and returns it.

    Raises:
        ConfigError: a malformed reference, a module that cannot be imported, or a missing name.
    """
    module_name, sep, attribute = str(reference).partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(
            f"network {reference!r} must look like package.module:attribute, e.g. "
            "my_nets:make_network"
        )
    from purejaxppo.imports import import_module

    target: Any = import_module(module_name, f"network {reference!r}")
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(
                f"network {reference!r}: {module_name} has no attribute {attribute!r}"
            )
        target = getattr(target, part)
    return target


def network_reference(network: Any) -> str | None:
    """`"module:qualname"` if importing it gives back `network` itself, else None."""
    if isinstance(network, str):
        return network
    module, name = getattr(network, "__module__", None), getattr(network, "__qualname__", None)
    if not module or not name or "<" in name or module == "__main__":
        return None
    try:
        found = resolve_reference(f"{module}:{name}")
    except ConfigError:
        return None
    return f"{module}:{name}" if found is network else None


def network_name(network: Any) -> str:
    """A short name for messages: the reference string, or the class / function name."""
    if isinstance(network, str):
        return network
    if isinstance(network, nn.Module):
        return type(network).__name__
    return getattr(network, "__qualname__", None) or type(network).__name__


def build_module(network: Any, spec: NetworkSpec, kwargs: Mapping[str, Any]) -> nn.Module:
    """The linen module for a config's `network` (reference, instance, class or factory)."""
    target = resolve_reference(network) if isinstance(network, str) else network
    name = network_name(network)
    kwargs = dict(kwargs)
    try:
        if isinstance(target, nn.Module):
            if kwargs:
                raise ConfigError(
                    f"network {name} is a module instance, so network_kwargs {sorted(kwargs)} "
                    "cannot apply; give a class or a factory instead"
                )
            module = target
        elif isinstance(target, type) and issubclass(target, nn.Module):
            fields = {f.name for f in dataclasses.fields(target)}
            given = {k: getattr(spec, k) for k in ("action_size", "discrete", "obs_shape")}
            module = target(**{k: v for k, v in given.items() if k in fields}, **kwargs)
        elif callable(target):
            module = target(spec, **kwargs)
        else:
            raise ConfigError(
                f"network {name} is a {type(target).__name__}, not a module or factory"
            )
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - the user's constructor; reported in one line
        raise ConfigError(f"network {name} could not be built: {_one_line(error)}") from None
    if not isinstance(module, nn.Module):
        raise ConfigError(
            f"network {name} gave a {type(module).__name__}; it must return a flax linen Module"
        )
    return module


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _shape(x: Any) -> str:
    return f"[{', '.join(str(d) for d in x.shape)}]" if hasattr(x, "shape") else type(x).__name__


def check_network(network: PolicyNetwork, name: str) -> None:
    """Traces init and apply once on a batch of 2 (no compute) and checks the outputs' shapes.

    Raises:
        ConfigError: one line naming the network, what it returned and what the contract wants.
    """
    spec, batch = network.spec, 2
    obs = jax.ShapeDtypeStruct((batch, *spec.obs_shape), jnp.float32)
    where = f"network {name} on observations float32{_shape(obs)}"
    try:
        params = jax.eval_shape(network.init, jax.random.PRNGKey(0), obs)
        policy, value = jax.eval_shape(network.module.apply, params, obs)
    except (TypeError, ValueError) as error:
        if "cannot unpack" in str(error) or "too many values" in str(error):
            raise ConfigError(f"{where} must return (policy, value); {_one_line(error)}") from None
        raise ConfigError(f"{where} failed: {_one_line(error)}") from None
    except Exception as error:  # noqa: BLE001 - the user's module; reported in one line
        raise ConfigError(f"{where} failed: {_one_line(error)}") from None
    if _shape(value) != f"[{batch}]":
        raise ConfigError(f"{where} returned a value shaped {_shape(value)}; it must be [{batch}]")
    n = spec.action_size
    if spec.discrete:
        if not hasattr(policy, "shape") or tuple(policy.shape) != (batch, n):
            nvec = spec.nvec
            what = f"{n} discrete actions" if nvec is None else f"MultiDiscrete{list(nvec)}"
            raise ConfigError(
                f"{where} returned a policy output shaped {_shape(policy)}; for {what} it "
                f"must be logits [{batch}, {n}]"
            )
    else:
        ok = (
            isinstance(policy, tuple)
            and len(policy) == 2
            and all(hasattr(p, "shape") for p in policy)
        )
        if (
            not ok
            or tuple(policy[0].shape) != (batch, n)
            or tuple(policy[1].shape)
            not in (
                (batch, n),
                (n,),
            )
        ):
            got = (
                ", ".join(_shape(p) for p in policy)
                if isinstance(policy, tuple)
                else _shape(policy)
            )
            raise ConfigError(
                f"{where} returned a policy output ({got}); for {n} continuous action dimensions "
                f"it must be (mean [{batch}, {n}], log_std [{batch}, {n}] or [{n}])"
            )
    warn_if_plain_qr(network.init, obs)
