"""A population trained in intervals of updates, with a jitted step between intervals that may
move learners and hyperparameters between members: the machinery under PBT and halving.

Why between driver chunks, not inside the compiled program: each interval is one call of the
sweep's own chunk program (`driver.compile_chunked`, per-run hyperparameters), so PBT adds no
second training program; the scores, lineage and metrics reach the host at every interval for
the writers, the progress bar and checkpoints; and the step itself is a small jitted pure
function of arrays (`lax` ops, explicit key). One host round trip per interval costs nothing
next to an interval of several updates.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from purejaxppo.config import ConfigError, Hyperparams, PPOConfig, hparams_as_float32
from purejaxppo.driver import chunk_lengths, compile_chunked, notify
from purejaxppo.hparams import HPARAM_FIELDS, validate_hparams
from purejaxppo.run_axis import run_keys
from purejaxppo.watchdog import Watchdog, wait_ready

# step(state, hparams, scores [P], interval) -> (state, hparams, parents [P] int32); a step
# that draws randomness derives its key from its own seed and `interval`.
PopulationStep = Callable[[Any, Hyperparams, np.ndarray, int], tuple[Any, Any, Any]]


@dataclasses.dataclass
class PopulationState:
    """Everything a population run needs to continue exactly (host arrays)."""

    runner_state: Any  # batched RunnerState, leaves [P, ...]
    hparams: Hyperparams  # leaves [P], the values in force for the next interval
    parents: np.ndarray  # [P] int32: whose learner each member continues in the next interval
    metrics: dict[str, np.ndarray]  # name -> [P, updates done]
    lineage: dict[str, np.ndarray]  # see `PopulationRun.lineage`
    interval: int  # intervals completed


@dataclasses.dataclass
class PopulationRun:
    """The outcome of `train_population`.

    `lineage` holds one row per interval t (axis 0) and member (axis 1): "parent" (the member
    whose learner it continued from at the start of t; itself when none was copied), "score"
    (its window score at the end of t), "start_update" / "end_update" (`[T]`), and one entry per
    hyperparameter field: the value in force during t.
    """

    config: PPOConfig
    seeds: np.ndarray  # [P]
    metrics: dict[str, np.ndarray]  # name -> [P, updates]
    lineage: dict[str, np.ndarray]
    runner_state: Any
    hparams: Hyperparams  # in force after the last interval (leaves [P])
    compile_seconds: float
    run_seconds: float
    completed: bool = True

    @property
    def num_intervals(self) -> int:
        """Intervals recorded in `lineage`."""
        return int(self.lineage["parent"].shape[0])


def window_scores(episode_return: np.ndarray, window: int) -> np.ndarray:
    """`[P]` mean episode return over the last `window` updates of `[P, updates]`, updates in
    which no episode finished (NaN) left out; NaN for a member with none in the window."""
    recent = episode_return[:, -window:]
    finite = np.isfinite(recent)
    total = np.where(finite, recent, 0.0).sum(axis=1)
    count = finite.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _empty_lineage(population: int) -> dict[str, np.ndarray]:
    lineage = {
        "parent": np.zeros((0, population), np.int32),
        "score": np.zeros((0, population), np.float64),
        "start_update": np.zeros((0,), np.int64),
        "end_update": np.zeros((0,), np.int64),
    }
    lineage.update({n: np.zeros((0, population), np.float32) for n in HPARAM_FIELDS})
    return lineage


def _append(lineage: dict[str, np.ndarray], row: dict[str, Any]) -> dict[str, np.ndarray]:
    return {
        n: np.concatenate([v, np.asarray(row[n])[None].astype(v.dtype)]) for n, v in lineage.items()
    }


def train_population(
    config: PPOConfig,
    hparams: Hyperparams,
    seeds: Sequence[int] | np.ndarray,
    interval_updates: int,
    step: PopulationStep,
    window: int | None = None,
    callbacks: Sequence[Any] = (),
    resume: PopulationState | None = None,
    stop: threading.Event | None = None,
    stop_after: int | None = None,
    watchdog: Watchdog | None = None,
) -> tuple[PopulationRun, PopulationState]:
    """Trains a population (run i from `PRNGKey(seeds[i])`, hyperparameters `hparams` leaves
    `[P]`) in intervals of `interval_updates` updates; after every interval but the last,
    `step(state, hparams, scores, interval)` returns the next state and hyperparameters
    and each member's parent.

    Args:
        window: updates whose training returns score a member (default `interval_updates`).
        callbacks: any of `on_start(config, seeds, start_update)`, `on_chunk(metrics [P, k],
            state)` and `on_interval(lineage_row, population_state)` (after the step: the row
            of the interval just trained, and the state a resume needs).
        resume: a `PopulationState` to continue from (e.g. restored from a checkpoint).
        stop: when set, the run ends after the current interval.
        stop_after: end after this many intervals in total (for tests of resume).
        watchdog: judges an interval that does not return (default `Watchdog()`).

    Returns:
        (`PopulationRun` over all intervals so far, the `PopulationState` to resume from).
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    population = seeds.shape[0]
    if interval_updates < 1:
        raise ConfigError(f"the interval must be at least one update, got {interval_updates}")
    window = interval_updates if window is None else window
    if window < 1:
        raise ConfigError(f"the scoring window must be at least one update, got {window}")
    hp = hparams_as_float32(validate_hparams(hparams))
    if any(np.shape(leaf) != (population,) for leaf in jax.tree.leaves(hp)):
        raise ConfigError(f"every hyperparameter needs one value per member ({population})")
    if resume is None:
        done, interval, parents = 0, 0, np.arange(population, dtype=np.int32)
        metrics: dict[str, np.ndarray] = {}
        lineage = _empty_lineage(population)
    else:
        done = int(np.asarray(resume.runner_state.update).reshape(-1)[0])
        interval, parents = resume.interval, np.asarray(resume.parents)
        metrics, lineage, hp = dict(resume.metrics), dict(resume.lineage), resume.hparams
    init, compiled, compile_seconds = compile_chunked(
        config, population, True, chunk_lengths(config.num_updates, done, interval_updates)
    )
    state = init(run_keys(seeds), hp) if resume is None else resume.runner_state
    notify(callbacks, "on_start", config, seeds, done)
    watchdog = Watchdog() if watchdog is None else watchdog
    run_seconds, updates_run = 0.0, 0
    while done < config.num_updates and not (stop is not None and stop.is_set()):
        if stop_after is not None and interval >= stop_after:
            break
        length = min(interval_updates, config.num_updates - done)
        start = time.perf_counter()
        state, chunk = compiled[length](state, hp)
        expected = run_seconds / updates_run * length if updates_run else None
        what = f"population interval {interval + 1} (updates {done + 1}-{done + length})"
        state, chunk = wait_ready((state, chunk), watchdog, expected, what)
        chunk = {n: np.asarray(v) for n, v in vars(chunk).items()}
        run_seconds += time.perf_counter() - start
        updates_run += length
        metrics = {
            n: np.concatenate([metrics[n], v], axis=1) if n in metrics else v
            for n, v in chunk.items()
        }
        notify(callbacks, "on_chunk", chunk, state)
        scores = window_scores(metrics["episode_return"], window)
        row = {
            "parent": parents,
            "score": scores,
            "start_update": done,
            "end_update": done + length,
        }
        row.update({n: np.asarray(getattr(hp, n)) for n in HPARAM_FIELDS})
        lineage = _append(lineage, row)
        done += length
        if done < config.num_updates:
            state, hp, new_parents = step(state, hp, np.asarray(scores, np.float32), interval)
            hp = jax.tree.map(np.asarray, hp)
            parents = np.asarray(new_parents, dtype=np.int32)
        interval += 1
        resume_state = PopulationState(state, hp, parents, metrics, lineage, interval)
        notify(callbacks, "on_interval", {n: v[-1] for n, v in lineage.items()}, resume_state)
    run = PopulationRun(
        config=config,
        seeds=seeds,
        metrics=metrics,
        lineage=lineage,
        runner_state=state,
        hparams=hp,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        completed=done >= config.num_updates,
    )
    return run, PopulationState(state, hp, parents, metrics, lineage, interval)


def state_arrays(state: PopulationState) -> dict[str, Any]:
    """The arrays of `state` besides its runner state, as one dict pytree (for a checkpoint's
    extra item): hparams, parents, metrics, lineage and the interval count."""
    return {
        "hparams": {n: np.asarray(getattr(state.hparams, n)) for n in HPARAM_FIELDS},
        "parents": np.asarray(state.parents, np.int32),
        "metrics": {n: np.asarray(v) for n, v in state.metrics.items()},
        "lineage": {n: np.asarray(v) for n, v in state.lineage.items()},
        "interval": np.asarray(state.interval, np.int64),
    }


def state_from_arrays(runner_state: Any, arrays: dict[str, Any]) -> PopulationState:
    """The `PopulationState` that `state_arrays` took apart (with its runner state)."""
    return PopulationState(
        runner_state=runner_state,
        hparams=Hyperparams(**{n: np.asarray(arrays["hparams"][n]) for n in HPARAM_FIELDS}),
        parents=np.asarray(arrays["parents"], np.int32),
        metrics={n: np.asarray(v) for n, v in arrays["metrics"].items()},
        lineage={n: np.asarray(v) for n, v in arrays["lineage"].items()},
        interval=int(arrays["interval"]),
    )
