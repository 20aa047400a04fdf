"""Runs many seeds (and hyperparameter settings) of one config as a single compiled program."""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import numpy as np

from purejaxppo.config import (
    ConfigError,
    Hyperparams,
    PPOConfig,
    hparams_as_float32,
    validate_hparams,
)
from purejaxppo.results import TrainResult
from purejaxppo.train import make_train


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
    """`[num_seeds, 2]` keys: run i gets `PRNGKey(seed + i)`, so `train_seeds(seed=s + i)` alone
    reproduces run i of `train_seeds(seed=s, num_seeds=n)`."""
    return jax.vmap(jax.random.PRNGKey)(np.arange(seed, seed + num_seeds))


@functools.lru_cache(maxsize=32)
def _vmapped_train(config: PPOConfig, per_run_hparams: bool):
    train = make_train(config)
    return jax.jit(jax.vmap(train, in_axes=(0, 0 if per_run_hparams else None)))


@functools.lru_cache(maxsize=32)
def _compiled(config: PPOConfig, num_runs: int, per_run_hparams: bool) -> tuple[Any, float]:
    keys = jax.ShapeDtypeStruct((num_runs, 2), np.uint32)
    scalar = () if not per_run_hparams else (num_runs,)
    hp = Hyperparams(
        **{k: jax.ShapeDtypeStruct(scalar, np.float32) for k in Hyperparams.__dataclass_fields__}
    )
    start = time.perf_counter()
    compiled = _vmapped_train(config, per_run_hparams).lower(keys, hp).compile()
    return compiled, time.perf_counter() - start


def compile_train(
    config: PPOConfig, num_runs: int, per_run_hparams: bool = False
) -> tuple[Any, float]:
    """Compiles `jit(vmap(train))` for `num_runs` runs, once per (config, runs, hparams layout).

    Returns:
        (compiled function `(keys [runs, 2], hparams) -> TrainOutput`, seconds spent compiling in
        this call: 0.0 when the compiled program came from the cache).
    """
    cached = _compiled.cache_info().hits
    compiled, seconds = _compiled(config, num_runs, per_run_hparams)
    return compiled, (0.0 if _compiled.cache_info().hits > cached else seconds)


def train_seeds(
    config: PPOConfig,
    num_seeds: int = 1,
    seed: int = 0,
    hparams: Hyperparams | None = None,
) -> TrainResult:
    """Trains `num_seeds` independent runs of `config` in one jitted, vmapped program.

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
    compiled, compile_seconds = compile_train(config, num_seeds, per_run)
    keys = seed_keys(seed, num_seeds)
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(keys, hp))
    run_seconds = time.perf_counter() - start
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
