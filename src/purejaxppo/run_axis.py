"""The run axis: keys per run, padding runs to a size, planning calls of equal size, sharding."""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from purejaxppo.config import HPARAM_FIELDS, Hyperparams

RUN_AXIS = "runs"  # the mesh axis the run dimension is sharded over


def run_keys(seeds: Any) -> jax.Array:
    """`[runs, 2]` keys: run i gets `PRNGKey(seeds[i])` (`seeds`: `[runs]` integers)."""
    return jax.vmap(jax.random.PRNGKey)(np.asarray(seeds, dtype=np.int64))


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
    """`[num_seeds, 2]` keys: run i gets `PRNGKey(seed + i)`.

    Trained alone (`train_seeds(config, 1, seed + i)`), run i is a run of the same distribution
    as run i of `train_seeds(config, num_seeds, seed)`, not the same bits: the batch size changes
    XLA's floating-point reduction order, and the difference grows over training.
    """
    return run_keys(np.arange(seed, seed + num_seeds))


def abstract_inputs(num_runs: int, per_run_hparams: bool) -> tuple[Any, Hyperparams]:
    """Shapes to compile a batched program for: keys `[runs, 2]` uint32 and float32 hparams
    leaves (`[runs]` if every run has its own values, else scalars)."""
    leaf = jax.ShapeDtypeStruct((num_runs,) if per_run_hparams else (), np.float32)
    keys = jax.ShapeDtypeStruct((num_runs, 2), np.uint32)
    return keys, Hyperparams(**{k: leaf for k in HPARAM_FIELDS})


def padded_size(n: int, multiple: int) -> int:
    """The smallest multiple of `multiple` that is >= `n`."""
    return -(-n // multiple) * multiple


def pad_runs(tree: Any, size: int) -> Any:
    """Pads every leaf's leading `[runs]` axis to `size` by repeating the last run (valid values,
    so padded runs train normally; callers drop them)."""

    def pad(x):
        x = np.asarray(x)
        extra = size - x.shape[0]
        return x if extra <= 0 else np.concatenate([x, np.repeat(x[-1:], extra, axis=0)])

    return jax.tree.map(pad, tree)


def chunk_plan(num_runs: int, max_parallel: int | None, num_devices: int = 1) -> tuple[int, int]:
    """(runs per call, number of calls) for `num_runs` runs.

    Every call has the same size (the last is padded), so one compiled program serves all. The
    size is a multiple of `num_devices`: rounded down from an explicit `max_parallel` (at least
    one run per device), rounded up when all runs fit in one call.
    """
    if max_parallel is None or max_parallel >= num_runs:
        size = padded_size(num_runs, num_devices)
    else:
        size = max(num_devices, max_parallel // num_devices * num_devices)
    return size, math.ceil(num_runs / size)


def shardings(devices: tuple, per_run_hparams: bool) -> tuple[Any, Any]:
    """(keys sharding, hparams sharding) over a 1-D mesh of `devices` on `RUN_AXIS`; hparams are
    split with the runs when `per_run_hparams`, else replicated. (None, None) below 2 devices."""
    if len(devices) < 2:
        return None, None
    mesh = Mesh(np.array(devices), (RUN_AXIS,))
    runs = NamedSharding(mesh, PartitionSpec(RUN_AXIS))
    return runs, runs if per_run_hparams else NamedSharding(mesh, PartitionSpec())


def place(keys: Any, hp: Any, devices: tuple, per_run: bool) -> tuple[Any, Any]:
    """(keys, hparams) put on `devices` with `shardings`, or returned as they are."""
    key_sharding, hp_sharding = shardings(devices, per_run)
    if key_sharding is None:
        return keys, hp
    return jax.device_put(keys, key_sharding), jax.device_put(hp, hp_sharding)


def place_state(state: Any, devices: tuple) -> Any:
    """A batched state (leaves `[runs, ...]`) put on `devices`, split by run, or returned as it is
    below 2 devices."""
    runs, _ = shardings(devices, True)
    return state if runs is None else jax.device_put(state, runs)


def to_host(x: Any) -> np.ndarray:
    """`x` as a NumPy array on this host, whole: an array sharded over several processes'
    devices (`jax.distributed`) is gathered from all of them first (every process must call
    this for the same array, as for any collective)."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)
