"""Many runs of one config in calls of at most `max_parallel` runs, each call sharded over the
devices and trained in chunks of updates by the driver: the engine under `sweep`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from purejaxppo.config import ConfigError, Hyperparams, PPOConfig, hparams_as_float32
from purejaxppo.driver import (
    chunk_lengths,
    compile_chunked,
    default_chunk_updates,
    notify,
    train_runs_chunked,
)
from purejaxppo.run_axis import chunk_plan, pad_runs, to_host


class _Unpadded:
    """The driver callbacks of one call of `train_runs`, shown its first `valid` runs only."""

    def __init__(self, callbacks: Sequence[Any], valid: int):
        self.callbacks, self.valid = callbacks, valid

    def on_start(self, config: PPOConfig, seeds: np.ndarray, start_update: int) -> None:
        notify(self.callbacks, "on_start", config, seeds[: self.valid], start_update)

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        valid = {n: v[: self.valid] for n, v in metrics.items()}
        notify(self.callbacks, "on_chunk", valid, runner_state)

    def on_end(self, result: Any) -> None:
        notify(self.callbacks, "on_end", result)


@dataclasses.dataclass
class RunsOutput:
    """What `train_runs` returns: metrics per run and how the runs were executed."""

    metrics: dict[str, np.ndarray]  # name -> [runs, updates] of the runs of the calls made
    runner_state: Any  # with keep_state: the final state on the host, leaves [runs, ...]
    compile_seconds: float  # compiling in this call (0 when the programs were cached)
    run_seconds: float  # all calls of the compiled programs
    chunk_size: int  # runs per call (padding included)
    num_chunks: int  # calls the runs need (made or not)
    num_devices: int  # devices the run axis was sharded over


def runs_per_call(
    num_runs: int, max_parallel: int | None, devices: Sequence[Any] | None = None
) -> tuple[int, int, tuple]:
    """(runs per call, calls, devices) of `train_runs` for `num_runs` runs (see `chunk_plan`)."""
    devices = tuple(devices or jax.devices())
    return (*chunk_plan(num_runs, max_parallel, len(devices)), devices)


def compile_runs(
    config: PPOConfig,
    num_runs: int,
    max_parallel: int | None = None,
    devices: Sequence[Any] | None = None,
    chunk_updates: int | None = None,
) -> float:
    """Compiles the programs `train_runs` will call for these arguments (memoized).

    Returns:
        Seconds spent compiling (0.0 when they were compiled before in this process).
    """
    size, _, devices = runs_per_call(num_runs, max_parallel, devices)
    k = chunk_updates or default_chunk_updates(config.num_updates)
    lengths = chunk_lengths(config.num_updates, 0, k)
    sharded_over = devices if len(devices) > 1 else ()
    return compile_chunked(config, size, True, lengths, sharded_over)[-1]


def train_runs(
    config: PPOConfig,
    seeds: Sequence[int] | np.ndarray,
    hparams: Hyperparams,
    max_parallel: int | None = None,
    devices: Sequence[Any] | None = None,
    callbacks: Sequence[Any] = (),
    chunk_updates: int | None = None,
    keep_state: bool = False,
    calls: Sequence[int] | None = None,
) -> RunsOutput:
    """Trains one run per entry of `seeds`, run i with key `PRNGKey(seeds[i])` and the i-th value
    of every `hparams` leaf, batched as `vmap(train, in_axes=(0, 0))`: one compile for all runs.

    Runs go `max_parallel` per call (the last call padded by repeating its last run, so it reuses
    the programs), each call's run axis is sharded over `devices` (default all of
    `jax.devices()`), and each call trains in chunks of `chunk_updates` updates
    (`driver.train_runs_chunked`). A run's numbers depend on the batch it is in (its size and
    sharding change the floating-point reduction order), so the same seeds, hparams,
    `max_parallel` and devices give the same bits, and any other batching the same distribution.

    Args:
        seeds: `[runs]` integer seeds.
        hparams: leaves shaped `[runs]`.
        callbacks: objects with any of `on_call_start(index, num_calls, runs)` (`runs`: the
            slice of `seeds` the call trains), `on_call_end(index, num_calls, seconds)`, and the
            driver's `on_start`, `on_chunk`, `on_end`, which see the call's runs without the
            padding (the runner state passed to `on_chunk` keeps it). To time or report the
            compile apart, call `compile_runs` first: `train_runs` then finds it memoized.
        keep_state: return the final runner state of every run (copied to the host per call).
        calls: make only these calls (indices, default all), e.g. to train a few runs again in
            the batches they were trained in.

    Returns:
        `RunsOutput` with NumPy metrics `[runs, updates]` of the runs of the calls made (in
        order, padding dropped) and timings.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    num_runs = seeds.shape[0]
    hp = hparams_as_float32(hparams)
    if {np.shape(leaf) for leaf in jax.tree.leaves(hp)} != {(num_runs,)}:
        raise ConfigError(f"every hyperparameter leaf must be shaped [{num_runs}] (one per run)")
    size, num_chunks, devices = runs_per_call(num_runs, max_parallel, devices)
    compile_seconds = compile_runs(config, num_runs, size, devices, chunk_updates)
    seeds_in, hp = pad_runs(seeds, size * num_chunks), pad_runs(hp, size * num_chunks)
    parts, states, run_seconds = [], [], 0.0
    for c in range(num_chunks) if calls is None else calls:
        part = slice(c * size, (c + 1) * size)
        runs = slice(c * size, min(num_runs, (c + 1) * size))
        notify(callbacks, "on_call_start", c, num_chunks, runs)
        out = train_runs_chunked(
            config,
            seeds_in[part],
            jax.tree.map(lambda x, p=part: x[p], hp),
            chunk_updates,
            [_Unpadded(callbacks, runs.stop - runs.start)],
            devices=devices,
            label=f"call {c + 1}/{num_chunks} of the sweep",
        )
        valid = runs.stop - runs.start
        parts.append({n: v[:valid] for n, v in out.metrics.items()})
        if keep_state:
            states.append(jax.tree.map(lambda x, n=valid: to_host(x)[:n], out.runner_state))
        run_seconds += out.run_seconds
        notify(callbacks, "on_call_end", c, num_chunks, out.run_seconds)
    return RunsOutput(
        metrics={n: np.concatenate([p[n] for p in parts]) for n in parts[0]},
        runner_state=jax.tree.map(lambda *x: np.concatenate(x), *states) if states else None,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        chunk_size=size,
        num_chunks=num_chunks,
        num_devices=len(devices),
    )
