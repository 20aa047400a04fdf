"""Weight initializers that are safe to vmap over many seeds on CPU."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp


def orthogonal(gain: float = 1.0):
    """`jax.nn.initializers.orthogonal(gain)`, the same values, but safe under `vmap` on CPU.

    Under `vmap`, `jax.random.orthogonal` becomes one batched LAPACK QR. On CPU, jaxlib splits
    that batch over XLA's intra-op thread pool and waits for the pieces from a thread of the
    same pool; when every pool thread waits so (two layers' QRs at once on a 2-core machine,
    at 256 seeds), the program deadlocks at 0% CPU. Here a batch of keys draws one unbatched
    matrix per key in sequence (`lax.map`), which never waits on the pool. Initialisation runs
    once per run, so the cost is nil. Your own networks should use it too.

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


def warn_if_plain_qr(init: Callable[..., Any], obs: Any) -> None:
    """Warns if `init(key, obs)` (a network's initializer), vmapped over keys, runs a QR
    decomposition that is not `orthogonal`'s: the batched QR that can deadlock on CPU."""
    keys = jax.ShapeDtypeStruct((2, 2), jnp.uint32)
    jaxpr = jax.make_jaxpr(jax.vmap(init, in_axes=(0, None)))(keys, obs)
    if _has_plain_qr(jaxpr.jaxpr):
        warnings.warn(
            "this network's initializer runs a QR decomposition (e.g. nn.initializers."
            "orthogonal); vmapped over many seeds on CPU it can deadlock: use "
            "purejaxppo.networks.orthogonal, which gives the same values",
            stacklevel=5,
        )


def _has_plain_qr(jaxpr: Any) -> bool:
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in ("geqrf", "qr", "householder_product"):
            return True
        if name.startswith("custom_vmap"):  # `orthogonal` above: safe by design
            continue
        for param in eqn.params.values():
            inner = getattr(param, "jaxpr", param)
            if hasattr(inner, "eqns") and _has_plain_qr(inner):
                return True
    return False
