"""The built-in actor-critic: MLP trunks with orthogonal init, following the network contract."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo.networks.initializers import orthogonal

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": nn.tanh,
    "relu": nn.relu,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "swish": nn.silu,  # another name for silu
    "elu": nn.elu,
    "leaky_relu": nn.leaky_relu,  # negative slope 0.01
}


def dense(features: int, gain: float) -> nn.Dense:
    """A Dense layer with orthogonal kernel init scaled by `gain` and zero biases."""
    return nn.Dense(features, kernel_init=orthogonal(gain), bias_init=nn.initializers.zeros)


class MLP(nn.Module):
    """Hidden layers only: orthogonal init with gain sqrt(2), zero biases."""

    hidden_sizes: Sequence[int]
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for width in self.hidden_sizes:
            x = act(dense(width, np.sqrt(2.0))(x))
        return x


class ActorCritic(nn.Module):
    """Policy and value networks; separate MLPs by default, one shared trunk if `shared`.

    It follows the network contract (`purejaxppo.networks.contract`): discrete actions give
    `action_size` logits; continuous actions give the Gaussian's mean (the head's output) and a
    learned, state-independent log standard deviation vector initialised at `log_std_init`.
    Policy head gain 0.01, value head gain 1.0.
    """

    action_size: int
    discrete: bool
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    shared: bool = False
    obs_rank: int = 1  # trailing observation axes, flattened before the MLP
    log_std_init: float = 0.0  # initial log standard deviation (continuous actions)

    def encode(self, obs: jax.Array, name: str | None) -> jax.Array:
        """Features `[*batch, hidden_sizes[-1]]` of observations `[*batch, *obs_shape]`: the
        flattened observation through an MLP (a subclass may put another encoder first)."""
        x = obs.reshape(obs.shape[: obs.ndim - self.obs_rank] + (-1,)).astype(jnp.float32)
        return MLP(self.hidden_sizes, self.activation, name=name)(x)

    @nn.compact
    def __call__(self, obs: jax.Array):
        """Maps observations `[*batch, *obs_shape]` to (policy output, value `[*batch]`): logits
        `[*batch, action_size]`, or `(mean [*batch, A], log_std [A])` for continuous actions."""
        if self.shared:
            actor_features = critic_features = self.encode(obs, None)
        else:
            actor_features = self.encode(obs, "actor")
            critic_features = self.encode(obs, "critic")
        head = dense(self.action_size, 0.01)(actor_features)
        value = dense(1, 1.0)(critic_features)[..., 0]
        if self.discrete:
            return head, value
        log_std = self.param(
            "log_std", nn.initializers.constant(self.log_std_init), (self.action_size,)
        )
        return (head, log_std), value


def make_network(
    action_size: int,
    discrete: bool,
    obs_shape: tuple[int, ...],
    hidden_sizes: Sequence[int] = (64, 64),
    activation: str = "tanh",
    shared: bool = False,
    log_std_init: float = 0.0,
) -> ActorCritic:
    """Returns the built-in `ActorCritic` (raw outputs) that flattens observations `obs_shape`."""
    return ActorCritic(
        action_size=action_size,
        discrete=discrete,
        hidden_sizes=tuple(hidden_sizes),
        activation=activation,
        shared=shared,
        obs_rank=len(obs_shape),
        log_std_init=log_std_init,
    )
