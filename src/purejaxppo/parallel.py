"""Runs many seeds and hyperparameter settings of one config as compiled, sharded programs."""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import numpy as np

from purejaxppo._xla import compiler_options
from purejaxppo.compile_cache import memoize_compiled
from purejaxppo.config import (
    ConfigError,
    Hyperparams,
    PPOConfig,
    hparams_as_float32,
    validate_hparams,
)
from purejaxppo.results import TrainResult
from purejaxppo.run_axis import (
    abstract_inputs,
    pad_runs,
    padded_size,
    place,
    seed_keys,
    shardings,
)
from purejaxppo.train import make_train
from purejaxppo.watchdog import Watchdog, wait_ready


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
    program = _program(config, per_run_hparams, with_state, devices)
    compiled = program.lower(keys, hp).compile(compiler_options())
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
    network: Any = None,
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
        network: your own network (as `make_train(config, network=...)`); the result's config
            carries it.

    Returns:
        `TrainResult` with NumPy metrics `[num_seeds, num_updates]`, the final runner state and
        timings (compile seconds, run seconds, env steps per second over all runs).
    """
    if network is not None:
        config = config.replace(network=network)
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
