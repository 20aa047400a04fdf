"""Drives `update_step` in jitted chunks of K updates, for live progress, logs and checkpoints."""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import jax
import jax.numpy as jnp
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
from purejaxppo.distributed import stop_requested
from purejaxppo.results import TrainResult
from purejaxppo.run_axis import abstract_inputs, place, place_state, run_keys, shardings, to_host
from purejaxppo.train import make_train
from purejaxppo.watchdog import (
    Watchdog,
    stop_on_signals,  # noqa: F401 - the CLI's import path
    wait_ready,
    writing_files,
)


class Callback(Protocol):
    """Receives the host-side stream of a chunked run. Every method is optional."""

    def on_start(self, config: PPOConfig, seeds: np.ndarray, start_update: int) -> None: ...

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        """`metrics`: name -> `[seeds, k]` for the k updates just done; `runner_state` after them."""

    def on_end(self, result: TrainResult) -> None: ...


def default_chunk_updates(num_updates: int, target_chunks: int = 25) -> int:
    """Updates per chunk: a divisor of `num_updates` near `num_updates / target_chunks` if one
    exists (no second compile for a shorter last chunk), else that ratio rounded up."""
    ideal = max(1, math.ceil(num_updates / target_chunks))
    divisors = [d for d in range(max(1, ideal // 2), 2 * ideal + 1) if num_updates % d == 0]
    return min(divisors, key=lambda d: abs(d - ideal)) if divisors else ideal


def checkpoint_chunking(
    num_updates: int, log_every: int | None, checkpoint_every: int | None
) -> tuple[int, int]:
    """(updates per jitted chunk, updates between checkpoints); checkpoints fall on chunk ends.

    With both options the chunk is their gcd; with `--checkpoint-every` alone, its largest
    divisor not above the default chunk; by default about 5 checkpoints per run.
    """
    for name, value in (("--log-every", log_every), ("--checkpoint-every", checkpoint_every)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value}")
    chunk = log_every or default_chunk_updates(num_updates)
    if checkpoint_every is None:
        return chunk, chunk * max(1, round(num_updates / chunk / 5))
    if log_every is not None:
        return math.gcd(log_every, checkpoint_every), checkpoint_every
    return max(d for d in range(1, chunk + 1) if checkpoint_every % d == 0), checkpoint_every


@functools.lru_cache(maxsize=32)
def _chunk_fns(config: PPOConfig, per_run_hparams: bool, devices: tuple = ()):
    """(jitted batched `init`, `length -> jitted chunk of length updates`); with several
    `devices`, every input and output is sharded over them by run."""
    train = make_train(config)
    hp_axis = 0 if per_run_hparams else None
    runs, hp_sharding = shardings(devices, per_run_hparams)
    sharded = {} if runs is None else {"in_shardings": (runs, hp_sharding), "out_shardings": runs}
    init = jax.jit(jax.vmap(train.init, in_axes=(0, hp_axis)), **sharded)

    def run_chunk(length: int):
        def one_run(s, hp, updates):
            return jax.lax.scan(lambda c, i: train.update_step(c, hp, i), s, updates)

        def chunk(state, hp):
            # Every run of a batch is at the same update; an unbatched index lets the in-training
            # evaluation's lax.cond skip its work (a batched one becomes a select of both).
            updates = state.update[0] + jnp.arange(length)
            return jax.vmap(one_run, in_axes=(0, hp_axis, None))(state, hp, updates)

        return jax.jit(chunk, **sharded)

    return init, run_chunk


def chunk_lengths(num_updates: int, start_update: int, chunk_updates: int) -> tuple[int, ...]:
    """The distinct chunk lengths a run from `start_update` needs (each compiles once)."""
    remaining = num_updates - start_update
    lengths = {min(chunk_updates, remaining)} if remaining > 0 else set()
    if remaining > chunk_updates and remaining % chunk_updates:
        lengths.add(remaining % chunk_updates)
    return tuple(sorted(lengths))


@memoize_compiled
def compile_chunked(
    config: PPOConfig,
    num_runs: int,
    per_run_hparams: bool,
    lengths: tuple[int, ...],
    devices: tuple = (),
) -> tuple[Any, dict[int, Any], float]:
    """Compiles the batched `init` and one chunk program per length, once per arguments.

    With two or more `devices`, the run axis (`num_runs`, a multiple of their number) is sharded
    over them: inputs, state and metrics alike.

    Returns:
        (compiled init `(keys [runs, 2], hparams) -> RunnerState`, {length: compiled
        `(state, hparams) -> (state, Metrics [runs, length])`}, seconds spent compiling in this
        call: 0.0 when everything came from the cache).
    """
    init, run_chunk = _chunk_fns(config, per_run_hparams, devices)
    keys, hp = abstract_inputs(num_runs, per_run_hparams)
    start = time.perf_counter()
    init_compiled = init.lower(keys, hp).compile(compiler_options())
    state = jax.eval_shape(init, keys, hp)
    chunks = {n: run_chunk(n).lower(state, hp).compile(compiler_options()) for n in lengths}
    return init_compiled, chunks, time.perf_counter() - start


def notify(callbacks: Sequence[Any], method: str, *args: Any) -> None:
    """Calls `method(*args)` on every callback that has it (every callback method is optional)."""
    for callback in callbacks:
        handler = getattr(callback, method, None)
        if handler is not None:
            handler(*args)


def train_chunked(
    config: PPOConfig,
    num_seeds: int = 1,
    seed: int = 0,
    hparams: Hyperparams | None = None,
    chunk_updates: int | None = None,
    callbacks: Sequence[Any] = (),
    initial_state: Any = None,
    stop: threading.Event | None = None,
    watchdog: Watchdog | None = None,
    network: Any = None,
) -> TrainResult:
    """`train_runs_chunked` with seeds `seed .. seed + num_seeds - 1`: like `train_seeds`, with
    the same numbers (bit for bit on CPU), but in jitted chunks of `chunk_updates` updates.
    `network`: your own network (as `make_train(config, network=...)`).

    Returns:
        `TrainResult` with metrics `[seeds, k_total]` of the updates run in this call.
    """
    seeds = np.arange(seed, seed + num_seeds)
    if network is not None:
        config = config.replace(network=network)
    return train_runs_chunked(
        config, seeds, hparams, chunk_updates, callbacks, initial_state, stop, watchdog
    )


def train_runs_chunked(
    config: PPOConfig,
    seeds: Sequence[int] | np.ndarray,
    hparams: Hyperparams | None = None,
    chunk_updates: int | None = None,
    callbacks: Sequence[Any] = (),
    initial_state: Any = None,
    stop: threading.Event | None = None,
    watchdog: Watchdog | None = None,
    devices: Sequence[Any] = (),
    label: str = "",
) -> TrainResult:
    """Trains one run per entry of `seeds` (run i from `PRNGKey(seeds[i])`) in jitted chunks of
    `chunk_updates` updates (default `default_chunk_updates`), with the numbers of one
    `jit(vmap(train))` call over the same batch (bit for bit on CPU, tested).

    Args:
        seeds: `[runs]` integer seeds.
        hparams: scalars shared by all runs (default `config.hparams`), or leaves `[runs]`.
        initial_state: a batched `RunnerState` (leading `[runs]`) to continue from, e.g. a
            restored checkpoint; training resumes at its update counter.
        stop: when set (e.g. by a signal handler), the run ends after the current chunk.
        callbacks: objects with any of `on_start`, `on_chunk`, `on_end` (see `Callback`).
        watchdog: judges a chunk that does not return (default `Watchdog()`; see there).
        devices: two or more shard the run axis (runs: a multiple of their number) over them.
        label: prefixes the watchdog's description of a chunk (e.g. "call 2/3 of the sweep").

    Raises:
        StalledError: a chunk made no progress (`watchdog`); the callbacks have seen every
            chunk before it, so the last checkpoint and the metrics written are intact.

    Returns:
        `TrainResult` whose metrics cover the updates run in this call (`[runs, k_total]`);
        `result.completed` is False if `stop` ended it early.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    num_runs = seeds.shape[0]
    hp = hparams_as_float32(validate_hparams(config.hparams if hparams is None else hparams))
    per_run = any(np.ndim(leaf) for leaf in jax.tree.leaves(hp))
    done = 0 if initial_state is None else int(to_host(initial_state.update).reshape(-1)[0])
    if done > config.num_updates:
        raise ConfigError(f"the state is at update {done}, past this config's {config.num_updates}")
    k = chunk_updates or default_chunk_updates(config.num_updates)
    if k < 1:
        raise ConfigError(f"chunk_updates must be a positive integer, got {k}")
    devices = tuple(devices) if len(devices) > 1 else ()
    init, compiled, compile_seconds = compile_chunked(
        config, num_runs, per_run, chunk_lengths(config.num_updates, done, k), devices
    )
    keys, hp = place(run_keys(seeds), hp, devices, per_run)
    state = init(keys, hp) if initial_state is None else place_state(initial_state, devices)
    notify(callbacks, "on_start", config, seeds, done)

    watchdog = Watchdog() if watchdog is None else watchdog
    chunks: list[dict[str, np.ndarray]] = []
    run_seconds, updates_run = 0.0, 0
    while done < config.num_updates and not stop_requested(stop):
        length = min(k, config.num_updates - done)
        start = time.perf_counter()
        state, metrics = compiled[length](state, hp)
        expected = run_seconds / updates_run * length if updates_run else None
        what = f"update {done + 1}" if length == 1 else f"updates {done + 1}-{done + length}"
        what = f"{label}, {what}" if label else what
        state, metrics = wait_ready((state, metrics), watchdog, expected, what)
        metrics = {name: to_host(v) for name, v in vars(metrics).items()}
        run_seconds += time.perf_counter() - start
        done += length
        updates_run += length
        chunks.append(metrics)
        with writing_files():
            notify(callbacks, "on_chunk", metrics, state)

    names = chunks[0].keys() if chunks else ()
    steps = sum(c["env_steps"].shape[1] for c in chunks) * config.batch_size * num_runs
    result = TrainResult(
        config=config,
        hparams=hp,
        seeds=seeds,
        metrics={n: np.concatenate([c[n] for c in chunks], axis=1) for n in names},
        runner_state=state,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        env_steps_per_second=steps / max(run_seconds, 1e-9),
        completed=done >= config.num_updates,
    )
    notify(callbacks, "on_end", result)
    return result
