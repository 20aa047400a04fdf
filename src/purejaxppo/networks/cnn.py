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


class SameConv(nn.Module):
    """A square "SAME" convolution computed as patches times a matrix, with `nn.Conv`'s
    parameters (`kernel` `[k, k, C, channels]`, `bias` `[channels]`) and its output.

    Why not `nn.Conv`: under `vmap` over runs (seeds, a sweep), every run has its own kernel,
    and XLA turns the batched convolution into a grouped one, which its CPU backend runs far
    slower than one convolution per run. Here the k*k shifted views of the padded input are
    concatenated on the channel axis and multiplied by the kernel reshaped to
    `[k * k * C, channels]`: under `vmap` that is a batched matrix product.
    """

    channels: int
    kernel: int
    stride: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Maps `[B, H, W, C]` to `[B, ceil(H / stride), ceil(W / stride), channels]`."""
        k, s = self.kernel, self.stride
        kernel = self.param("kernel", orthogonal(np.sqrt(2.0)), (k, k, x.shape[-1], self.channels))
        bias = self.param("bias", nn.initializers.zeros, (self.channels,))
        pads = jax.lax.padtype_to_pads(x.shape[1:3], (k, k), (s, s), "SAME")
        padded = jnp.pad(x, ((0, 0), *pads, (0, 0)))
        out_h, out_w = ((n - k) // s + 1 for n in padded.shape[1:3])
        views = [
            padded[:, i : i + (out_h - 1) * s + 1 : s, j : j + (out_w - 1) * s + 1 : s, :]
            for i in range(k)
            for j in range(k)
        ]  # in the kernel's (row, column, channel) order
        patches = jnp.concatenate(views, axis=-1)
        return patches @ kernel.reshape(-1, self.channels) + bias


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
        for i, (channels, kernel, stride) in enumerate(self.layers):
            # named like nn.Conv's layers, whose parameters these are
            x = act(SameConv(channels, kernel, stride, name=f"Conv_{i}")(x))
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


__all__ = ["CNN", "CNNActorCritic", "ConvLayers", "SameConv", "conv_layers"]
