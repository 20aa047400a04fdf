"""The convolutional encoder (`encoder: cnn`) for `[H, W, C]` grid and image observations, and
the actor-critic that puts it in front of the MLP trunks."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo.networks.initializers import orthogonal
from purejaxppo.networks.mlp import ACTIVATIONS, MLP, ActorCritic

ConvLayers = tuple[tuple[int, int, int], ...]  # (channels, kernel size, stride) per conv layer


def conv_layers(
    channels: Sequence[int], kernel_sizes: Sequence[int], strides: Sequence[int]
) -> ConvLayers:
    """The config's three equal-length lists as one `(channels, kernel, stride)` per layer."""
    return tuple(zip(channels, kernel_sizes, strides, strict=True))


class CNN(nn.Module):
    """Square convolutions with "SAME" padding, then a flatten.

    SAME padding keeps the edge cells at full weight (Breakout's paddle lives on the bottom row)
    and lets any grid size through, down to 1x1. Orthogonal init with gain sqrt(2), zero biases.
    The layers use the config's `activation`, like every other hidden layer, so one key sets
    the whole network's nonlinearity (the CNN configs choose relu).
    """

    layers: ConvLayers
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        """Maps observations `[*batch, H, W, C]` (any number of leading axes, e.g. `[T, B]`) to
        flat features `[*batch, H' * W' * channels[-1]]`, H' = ceil(H / prod(strides))."""
        batch = obs.shape[:-3]
        # one batch axis for the convolution, whatever the leading axes were
        x = obs.reshape((-1, *obs.shape[-3:])).astype(jnp.float32)
        act = ACTIVATIONS[self.activation]
        for channels, kernel, stride in self.layers:
            conv = nn.Conv(
                channels,
                (kernel, kernel),
                strides=(stride, stride),
                padding="SAME",
                kernel_init=orthogonal(np.sqrt(2.0)),
                bias_init=nn.initializers.zeros,
            )
            x = act(conv(x))
        return x.reshape((*batch, -1))


class CNNActorCritic(ActorCritic):
    """`ActorCritic` whose trunks start with a `CNN`: obs `[*batch, H, W, C]` -> CNN -> MLP of
    `hidden_sizes` -> heads. Separate actor and critic (default) each get their own CNN; a
    shared network shares one. Same heads, gains and outputs as `ActorCritic`."""

    conv: ConvLayers = ((16, 3, 1), (32, 3, 2))

    def encode(self, obs: jax.Array, name: str | None) -> jax.Array:
        """Features `[*batch, hidden_sizes[-1]]` of observations `[*batch, H, W, C]`."""
        cnn_name = f"{name}_cnn" if name else None
        x = CNN(self.conv, self.activation, name=cnn_name)(obs)
        return MLP(self.hidden_sizes, self.activation, name=name)(x)


__all__ = ["CNN", "CNNActorCritic", "ConvLayers", "conv_layers"]
