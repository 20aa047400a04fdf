"""Actor-critic networks and their action distributions; the only module that imports distrax."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

_ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}


def orthogonal(gain: float = 1.0):
    """`jax.nn.initializers.orthogonal(gain)`, the same values, but safe under `vmap` on CPU.

    Under `vmap`, `jax.random.orthogonal` becomes one batched LAPACK QR. On CPU, jaxlib splits
    that batch over XLA's intra-op thread pool and waits for the pieces from a thread of the
    same pool; when every pool thread waits so (two layers' QRs at once on a 2-core machine,
    at 256 seeds), the program deadlocks at 0% CPU. Here a batch of keys draws one unbatched
    matrix per key in sequence (`lax.map`), which never waits on the pool. Initialisation runs
    once per run, so the cost is nil.

    Returns:
        An initializer `(key, shape, dtype) -> Array[shape]` whose last axis holds orthonormal
        columns (or rows, if there are fewer of them), scaled by `gain`.
    """

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        n_cols = shape[-1]
        n_rows = math.prod(shape) // n_cols

        @jax.custom_batching.custom_vmap
        def draw(k: jax.Array) -> jax.Array:
            return jax.random.orthogonal(k, n_rows, (), dtype, n_cols)

        @draw.def_vmap
        def draw_each(axis_size: int, in_batched: list[bool], keys: jax.Array):
            return jax.lax.map(draw, keys), True

        return (jnp.asarray(gain, dtype) * draw(key)).reshape(shape)

    return init


def _dense(features: int, gain: float) -> nn.Dense:
    return nn.Dense(features, kernel_init=orthogonal(gain), bias_init=nn.initializers.zeros)


class MLP(nn.Module):
    """Hidden layers only: orthogonal init with gain sqrt(2), zero biases."""

    hidden_sizes: Sequence[int]
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = _ACTIVATIONS[self.activation]
        for width in self.hidden_sizes:
            x = act(_dense(width, np.sqrt(2.0))(x))
        return x


class ActorCritic(nn.Module):
    """Policy and value networks; separate MLPs by default, one shared trunk if `shared`.

    Discrete actions: a Categorical over `action_size` logits. Continuous: a diagonal Gaussian
    whose mean is the head's output and whose log standard deviation is a learned,
    state-independent vector initialised at 0. Policy head gain 0.01, value head gain 1.0.
    """

    action_size: int
    discrete: bool
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    shared: bool = False
    obs_rank: int = 1  # trailing observation axes, flattened before the MLP
    log_std_init: float = 0.0  # initial log standard deviation (continuous actions)

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[distrax.Distribution, jax.Array]:
        """Maps observations `[*batch, *obs_shape]` to (distribution over `[*batch]`, value `[*batch]`)."""
        x = obs.reshape(obs.shape[: obs.ndim - self.obs_rank] + (-1,)).astype(jnp.float32)
        if self.shared:
            actor_features = critic_features = MLP(self.hidden_sizes, self.activation)(x)
        else:
            actor_features = MLP(self.hidden_sizes, self.activation, name="actor")(x)
            critic_features = MLP(self.hidden_sizes, self.activation, name="critic")(x)
        head = _dense(self.action_size, 0.01)(actor_features)
        value = _dense(1, 1.0)(critic_features)[..., 0]
        if self.discrete:
            return distrax.Categorical(logits=head), value
        log_std = self.param(
            "log_std", nn.initializers.constant(self.log_std_init), (self.action_size,)
        )
        return distrax.MultivariateNormalDiag(head, jnp.exp(log_std)), value


def make_network(
    action_size: int,
    discrete: bool,
    obs_shape: tuple[int, ...],
    hidden_sizes: Sequence[int] = (64, 64),
    activation: str = "tanh",
    shared: bool = False,
    log_std_init: float = 0.0,
) -> ActorCritic:
    """Returns an `ActorCritic` that flattens observations of shape `obs_shape`."""
    return ActorCritic(
        action_size=action_size,
        discrete=discrete,
        hidden_sizes=tuple(hidden_sizes),
        activation=activation,
        shared=shared,
        obs_rank=len(obs_shape),
        log_std_init=log_std_init,
    )


def sample_action(dist: distrax.Distribution, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Samples actions and their log-probabilities from `dist` (batch shape `[N]`)."""
    return dist.sample_and_log_prob(seed=key)


def greedy_action(dist: Any) -> jax.Array:
    """The most likely action: the arg-max logit, or the Gaussian mean."""
    return dist.mode()
