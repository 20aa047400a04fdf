"""Runs many seeds and hyperparameter settings of one config as one compiled, sharded program."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from purejaxppo.compile_cache import memoize_compiled
from purejaxppo.config import (
    HPARAM_FIELDS,
    ConfigError,
    Hyperparams,
    PPOConfig,
    hparams_as_float32,
    validate_hparams,
)
from purejaxppo.results import TrainResult
from purejaxppo.run_axis import chunk_plan, pad_runs, padded_size, place, shardings
from purejaxppo.train import make_train
from purejaxppo.watchdog import Watchdog, wait_ready


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
    """`[num_seeds, 2]` keys: run i gets `PRNGKey(seed + i)`, so `train_seeds(seed=s + i)` alone
    reproduces run i of `train_seeds(seed=s, num_seeds=n)`."""
    return jax.vmap(jax.random.PRNGKey)(np.arange(seed, seed + num_seeds))


@functools.lru_cache(maxsize=32)
def _program(config: PPOConfig, per_run_hparams: bool, with_state: bool, devices: tuple = ()):
    """`jit(vmap(train))`; with several `devices`, its inputs are sharded over them by run."""
    train = make_train(config)
    vmapped = jax.vmap(train, in_axes=(0, 0 if per_run_hparams else None))
    fn = vmapped if with_state else lambda keys, hp: vmapped(keys, hp).metrics  # state freed early
    key_sharding, hp_sharding = shardings(devices, per_run_hparams)
    if key_sharding is None:
        return jax.jit(fn)
    return jax.jit(fn, in_shardings=(key_sharding, hp_sharding))


def abstract_inputs(num_runs: int, per_run_hparams: bool) -> tuple[Any, Hyperparams]:
    """Shapes to compile a batched program for: keys `[runs, 2]` uint32 and float32 hparams
    leaves (`[runs]` if every run has its own values, else scalars)."""
    leaf = jax.ShapeDtypeStruct((num_runs,) if per_run_hparams else (), np.float32)
    keys = jax.ShapeDtypeStruct((num_runs, 2), np.uint32)
    return keys, Hyperparams(**{k: leaf for k in HPARAM_FIELDS})


@memoize_compiled
def _compiled(
    config: PPOConfig,
    num_runs: int,
    per_run_hparams: bool,
    devices: tuple = (),
    with_state: bool = True,
) -> tuple[Any, float]:
    keys, hp = abstract_inputs(num_runs, per_run_hparams)
    start = time.perf_counter()
    compiled = _program(config, per_run_hparams, with_state, devices).lower(keys, hp).compile()
    return compiled, time.perf_counter() - start


def compile_train(
    config: PPOConfig, num_runs: int, per_run_hparams: bool = False
) -> tuple[Any, float]:
    """Compiles `jit(vmap(train))` for `num_runs` runs, once per (config, runs, hparams layout).

    Returns:
        (compiled function `(keys [runs, 2], hparams) -> TrainOutput`, seconds spent compiling in
        this call: 0.0 when the compiled program came from the cache).
    """
    return _compiled(config, num_runs, per_run_hparams)


def train_seeds(
    config: PPOConfig,
    num_seeds: int = 1,
    seed: int = 0,
    hparams: Hyperparams | None = None,
) -> TrainResult:
    """Trains `num_seeds` independent runs of `config` in one jitted, vmapped program.

    With several devices, the seed axis is sharded over all of them (padded to a multiple of the
    device count; the padding is dropped).

    Args:
        config: the static configuration.
        num_seeds: runs; each gets its own key from `seed_keys(seed, num_seeds)`.
        seed: the base seed.
        hparams: scalars shared by all runs (default `config.hparams`), or leaves shaped
            `[num_seeds]` to give every run its own values.

    Returns:
        `TrainResult` with NumPy metrics `[num_seeds, num_updates]`, the final runner state and
        timings (compile seconds, run seconds, env steps per second over all runs).
    """
    if isinstance(num_seeds, bool) or not isinstance(num_seeds, int) or num_seeds < 1:
        raise ConfigError(f"num_seeds must be a positive integer, got {num_seeds!r}")
    hp = hparams_as_float32(validate_hparams(config.hparams if hparams is None else hparams))
    shapes = {np.shape(leaf) for leaf in jax.tree.leaves(hp)}
    if shapes == {()}:
        per_run = False
    elif shapes == {(num_seeds,)}:
        per_run = True
    else:
        raise ConfigError(
            f"hyperparameter leaves must all be scalars or all shaped [{num_seeds}], got {shapes}"
        )
    devices = tuple(jax.devices()) if jax.device_count() > 1 else ()
    size = padded_size(num_seeds, max(1, len(devices)))
    compiled, compile_seconds = _compiled(config, size, per_run, devices)
    keys, hp_in = place(
        pad_runs(seed_keys(seed, num_seeds), size),
        pad_runs(hp, size) if per_run else hp,
        devices,
        per_run,
    )
    start = time.perf_counter()
    out = wait_ready(compiled(keys, hp_in), Watchdog(), what=f"training {num_seeds} seed(s)")
    run_seconds = time.perf_counter() - start
    out = jax.tree.map(lambda x: x[:num_seeds], out)
    metrics = {k: np.asarray(v) for k, v in vars(out.metrics).items()}
    return TrainResult(
        config=config,
        hparams=hp,
        seeds=np.arange(num_seeds) + seed,
        metrics=metrics,
        runner_state=out.runner_state,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        env_steps_per_second=num_seeds * config.env_steps_per_run / max(run_seconds, 1e-9),
    )


def _call(callbacks: Sequence[Any], method: str, *args: Any) -> None:
    for callback in callbacks:
        handler = getattr(callback, method, None)
        if handler is not None:
            handler(*args)


@dataclasses.dataclass
class RunsOutput:
    """What `train_runs` returns: metrics per run and how the runs were executed."""

    metrics: dict[str, np.ndarray]  # name -> [runs, updates]
    compile_seconds: float  # compiling in this call (0 when the program was cached)
    run_seconds: float  # all calls of the compiled program
    chunk_size: int  # runs per call (padding included)
    num_chunks: int  # calls made
    num_devices: int  # devices the run axis was sharded over


def train_runs(
    config: PPOConfig,
    seeds: Sequence[int] | np.ndarray,
    hparams: Hyperparams,
    max_parallel: int | None = None,
    devices: Sequence[Any] | None = None,
    callbacks: Sequence[Any] = (),
) -> RunsOutput:
    """Trains one run per entry of `seeds`, run i with key `PRNGKey(seeds[i])` and the i-th value
    of every `hparams` leaf, as `jit(vmap(train, in_axes=(0, 0)))`: one compile for all runs.

    Runs go `max_parallel` per call (the last call padded, so it reuses the program), and each
    call's run axis is sharded over `devices` (default all of `jax.devices()`).

    Args:
        seeds: `[runs]` integer seeds.
        hparams: leaves shaped `[runs]`.
        callbacks: objects with any of `on_compile_start(runs_per_call)`,
            `on_compile_end(seconds)`, `on_chunk_start(index, num_chunks)` and
            `on_chunk_end(runs_done, runs_total, seconds)`.

    Returns:
        `RunsOutput` with NumPy metrics `[runs, updates]` (padding dropped) and timings.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    num_runs = seeds.shape[0]
    hp = hparams_as_float32(hparams)
    if {np.shape(leaf) for leaf in jax.tree.leaves(hp)} != {(num_runs,)}:
        raise ConfigError(f"every hyperparameter leaf must be shaped [{num_runs}] (one per run)")
    devices = tuple(devices or jax.devices())
    size, num_chunks = chunk_plan(num_runs, max_parallel, len(devices))
    _call(callbacks, "on_compile_start", size)
    sharded_over = devices if len(devices) > 1 else ()
    compiled, compile_seconds = _compiled(config, size, True, sharded_over, False)
    _call(callbacks, "on_compile_end", compile_seconds)
    keys = pad_runs(np.asarray(jax.vmap(jax.random.PRNGKey)(seeds)), size * num_chunks)
    hp = pad_runs(hp, size * num_chunks)
    parts: list[dict[str, np.ndarray]] = []
    run_seconds = 0.0
    for c in range(num_chunks):
        part = slice(c * size, (c + 1) * size)
        _call(callbacks, "on_chunk_start", c, num_chunks)
        start = time.perf_counter()
        inputs = place(keys[part], jax.tree.map(lambda x, p=part: x[p], hp), devices, True)
        expected = run_seconds / c if c else None
        what = f"call {c + 1}/{num_chunks} of the sweep"
        metrics = wait_ready(compiled(*inputs), Watchdog(), expected, what)
        parts.append({n: np.asarray(v) for n, v in vars(metrics).items()})
        seconds = time.perf_counter() - start
        run_seconds += seconds
        _call(callbacks, "on_chunk_end", min(num_runs, (c + 1) * size), num_runs, seconds)
    return RunsOutput(
        metrics={n: np.concatenate([p[n] for p in parts])[:num_runs] for n in parts[0]},
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        chunk_size=size,
        num_chunks=num_chunks,
        num_devices=len(devices),
    )
