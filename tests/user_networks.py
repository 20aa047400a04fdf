"""Networks a user would write, for tests of the network contract (imported by reference)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from purejaxppo.networks import NetworkSpec, orthogonal


class SharedTrunk(nn.Module):
    """One GELU trunk with a LayerNorm, then a policy head and a value head (discrete)."""

    action_size: int
    width: int = 64

    @nn.compact
    def __call__(self, obs: jax.Array):
        x = obs
        for _ in range(2):
            x = nn.gelu(nn.LayerNorm()(nn.Dense(self.width, kernel_init=orthogonal(2**0.5))(x)))
        logits = nn.Dense(self.action_size, kernel_init=orthogonal(0.01))(x)
        value = nn.Dense(1, kernel_init=orthogonal(1.0))(x)[:, 0]
        return logits, value


class GaussianNet(nn.Module):
    """Continuous actions with a state-dependent log std."""

    action_size: int

    @nn.compact
    def __call__(self, obs: jax.Array):
        x = nn.tanh(nn.Dense(32, kernel_init=orthogonal(2**0.5))(obs))
        mean = nn.Dense(self.action_size, kernel_init=orthogonal(0.01))(x)
        log_std = nn.Dense(self.action_size, kernel_init=orthogonal(0.01))(x) - 0.5
        value = nn.Dense(1)(x)[:, 0]
        return (mean, log_std), value


def make_shared(spec: NetworkSpec, width: int = 64) -> nn.Module:
    """A factory: the contract's `factory(spec, **network_kwargs)`."""
    return SharedTrunk(action_size=spec.action_size, width=width)


class ValueOnly(nn.Module):
    """Breaks the contract: returns only the value."""

    @nn.compact
    def __call__(self, obs: jax.Array):
        return nn.Dense(1)(obs)[:, 0]


class WrongLogits(nn.Module):
    """Breaks the contract: 3 logits for a 2-action environment."""

    @nn.compact
    def __call__(self, obs: jax.Array):
        return nn.Dense(3)(obs), nn.Dense(1)(obs)[:, 0]


class ColumnValue(nn.Module):
    """Breaks the contract: value shaped [batch, 1]."""

    action_size: int

    @nn.compact
    def __call__(self, obs: jax.Array):
        return nn.Dense(self.action_size)(obs), nn.Dense(1)(obs)


class Crashes(nn.Module):
    """Raises inside its call."""

    @nn.compact
    def __call__(self, obs: jax.Array):
        return jnp.dot(obs, jnp.ones((7, 7))), obs[:, 0]


class JaxOrthogonal(nn.Module):
    """Uses jax's own orthogonal init (a batched QR under vmap)."""

    action_size: int

    @nn.compact
    def __call__(self, obs: jax.Array):
        dense = lambda n: nn.Dense(n, kernel_init=nn.initializers.orthogonal())  # noqa: E731
        x = nn.tanh(dense(16)(obs))
        return dense(self.action_size)(x), dense(1)(x)[:, 0]
