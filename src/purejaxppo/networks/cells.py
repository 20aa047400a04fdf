"""GRU and LSTM over a whole time-major sequence, with the reset convention of
`networks.recurrent`: the input projections of all T steps are one matmul before the scan, so
each step does one recurrent matmul instead of a Dense per gate.

The equations are flax's `GRUCell` and `LSTMCell` (gates r, z, n and i, f, g, o; sigmoid gates,
tanh activations); `tests/test_recurrent.py` checks them against flax's cells step by step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from purejaxppo.networks.initializers import orthogonal

GATES = {"gru": 3, "lstm": 4}


def blockwise(init: Callable[..., jax.Array], blocks: int) -> Callable[..., jax.Array]:
    """An initializer for a `[rows, blocks * H]` kernel: `init` drawn for each `[rows, H]`
    block with its own key, then concatenated (each gate's kernel as if it stood alone)."""

    def draw(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        rows, cols = shape
        keys = jax.random.split(key, blocks)
        return jnp.concatenate([init(k, (rows, cols // blocks), dtype) for k in keys], axis=1)

    return draw


def reset_rows(carry: Any, starts: jax.Array) -> Any:
    """`carry` with the rows where `starts` (`[B]` bool) set to zero."""
    return jax.tree.map(lambda c: jnp.where(starts[:, None], 0.0, c), carry)


class ScannedRecurrence(nn.Module):
    """A GRU (`kind="gru"`, carry `h [B, H]`) or LSTM (`"lstm"`, carry `(c, h)`) run over
    `features [T, B, F]`; at each step t the carry is zeroed where `starts[t]` first."""

    kind: str
    features: int

    @nn.compact
    def __call__(self, carry: Any, inputs: jax.Array, starts: jax.Array):
        """Returns (carry after step T-1, outputs `h` of every step `[T, B, H]`)."""
        hidden, gates = self.features, GATES[self.kind]
        kernel_i = self.param(
            "input_kernel", blockwise(orthogonal(1.0), gates), (inputs.shape[-1], gates * hidden)
        )
        # the input and recurrent terms are summed, so one bias serves both ...
        bias_i = self.param("input_bias", nn.initializers.zeros, (gates * hidden,))
        kernel_h = self.param(
            "recurrent_kernel", blockwise(orthogonal(1.0), gates), (hidden, gates * hidden)
        )
        if self.kind == "gru":  # ... but its candidate gate scales the recurrent term by r first
            bias_hn = self.param("recurrent_bias_n", nn.initializers.zeros, (hidden,))
        projected = inputs.astype(jnp.float32) @ kernel_i + bias_i  # [T, B, gates * H]

        def gru_step(h: jax.Array, step_in: tuple[jax.Array, jax.Array]):
            x, start = step_in
            h = reset_rows(h, start)
            xr, xz, xn = jnp.split(x, 3, axis=-1)
            hr, hz, hn = jnp.split(h @ kernel_h, 3, axis=-1)
            r = jax.nn.sigmoid(xr + hr)
            z = jax.nn.sigmoid(xz + hz)
            n = jnp.tanh(xn + r * (hn + bias_hn))
            h = (1.0 - z) * n + z * h
            return h, h

        def lstm_step(state: tuple[jax.Array, jax.Array], step_in: tuple[jax.Array, jax.Array]):
            x, start = step_in
            c, h = reset_rows(state, start)
            i, f, g, o = jnp.split(x + h @ kernel_h, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (c, h), h

        step = gru_step if self.kind == "gru" else lstm_step
        return jax.lax.scan(step, carry, (projected, starts))
