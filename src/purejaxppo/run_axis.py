"""The run axis: padding runs to a size, planning calls of equal size, sharding runs over devices."""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

RUN_AXIS = "runs"  # the mesh axis the run dimension is sharded over


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
