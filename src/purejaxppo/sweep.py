"""Hyperparameter sweeps: every setting of a search space x seeds, one compiled program per static
config, trained in calls of at most `max_parallel` runs and chunks of updates; a member again."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.driver import notify
from purejaxppo.run_batches import compile_runs, train_runs
from purejaxppo.sweep_layout import group_inputs, rerun_member, resolve_layout
from purejaxppo.sweep_plan import SweepGroup, plan_groups
from purejaxppo.sweep_results import SweepResult
from purejaxppo.sweep_space import (
    STATIC_FIELDS,
    Choice,
    Distribution,
    LogUniform,
    Space,
    Uniform,
    expand_space,
)


class _PerSetting:
    """`train_runs` callback of one group: hands each setting's runs to its own callbacks, made
    by `make_callbacks(setting)` for every call that trains some of its seeds."""

    def __init__(self, group: SweepGroup, configs, num_seeds: int, make_callbacks: Callable):
        self.ids, self.configs, self.num_seeds = group.setting_ids, configs, num_seeds
        self.make_callbacks = make_callbacks
        self.blocks: list[tuple[int, slice, list]] = []

    def on_call_start(self, index: int, num_calls: int, runs: slice) -> None:
        first, n = runs.start, self.num_seeds
        starts = sorted({runs.start, *range(-(-first // n) * n, runs.stop, n)})
        self.blocks = []
        for begin, end in zip(starts, [*starts[1:], runs.stop], strict=True):
            setting = self.ids[begin // n]
            rows = slice(begin - first, end - first)
            self.blocks.append((setting, rows, list(self.make_callbacks(setting))))

    def on_start(self, config: PPOConfig, seeds: np.ndarray, start_update: int) -> None:
        for setting, rows, callbacks in self.blocks:
            notify(callbacks, "on_start", self.configs[setting], seeds[rows], start_update)

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        for _, rows, callbacks in self.blocks:
            notify(callbacks, "on_chunk", {n: v[rows] for n, v in metrics.items()}, None)

    def on_end(self, result: Any) -> None:
        for _, _, callbacks in self.blocks:
            notify(callbacks, "on_end", result)


def sweep(
    config: PPOConfig,
    space: Space,
    num_seeds: int = 1,
    seed: int = 0,
    max_parallel: int | None = None,
    num_samples: int | None = None,
    sample_seed: int = 0,
    devices: Sequence[Any] | None = None,
    callbacks: Sequence[Any] = (),
    setting_callbacks: Callable[[int], Sequence[Any]] | None = None,
    keep_states: bool = False,
    chunk_updates: int | None = None,
    layout: Mapping[str, Any] | None = None,
    network: Any = None,
) -> SweepResult:
    """Trains every setting of `space` with seeds `seed .. seed + num_seeds - 1`.

    Settings x seeds form one run axis per static config, trained by one compiled program in
    calls of at most `max_parallel` runs (default: as many as the memory estimate allows),
    sharded over `devices` (default: all), in chunks of `chunk_updates` updates. A run's bits
    depend on its batch: the same sweep (config, settings, seeds, `max_parallel`, devices) gives
    the same bits; a run trained alone, or in another batch shape or device count, is a run of the
    same distribution, not the same bits. `rerun_member` gets a member again exactly.

    Args:
        callbacks: objects with any of `on_group_start(index, num_groups, group, num_runs,
            runs_per_call)`, `on_compile_start(runs_per_call)` and `on_compile_end(seconds)`
            (every program compiles first), `on_train_start(total_updates)` (updates of all
            calls), `on_group_train(index, num_groups)` and the `train_runs` callback methods.
        setting_callbacks: `setting -> driver callbacks` (`on_start`, `on_chunk`, `on_end`)
            for that setting's seeds, called once per call that trains some of them; they see
            `[seeds of the setting in the call, k]` metrics and no runner state (None).
        keep_states: keep every run's final runner state (on the host) in the result.
        layout: the batch shapes to use, as `SweepResult.layout` records them (see
            `resolve_layout`); it overrides `max_parallel` and `devices`.
        network: your own network for every setting (as `make_train(config, network=...)`).

    Returns:
        `SweepResult` with per-setting metrics `[num_seeds, updates]`, the ranked statistics and
        the layout; with `keep_states`, `runner_states[setting]` with leaves `[num_seeds, ...]`.
    """
    if network is not None:
        config = config.replace(network=network)
    if isinstance(num_seeds, bool) or not isinstance(num_seeds, int) or num_seeds < 1:
        raise ConfigError(f"num_seeds must be a positive integer, got {num_seeds!r}")
    settings = expand_space(space, num_samples, sample_seed)
    configs, groups = plan_groups(config, settings, num_seeds, max_parallel)
    devices, shapes = resolve_layout(groups, num_seeds, devices, chunk_updates, layout)
    seeds = np.arange(seed, seed + num_seeds)
    compile_seconds = 0.0
    for index, (group, (size, _, k)) in enumerate(zip(groups, shapes, strict=True)):
        runs = len(group.setting_ids) * num_seeds
        notify(callbacks, "on_group_start", index, len(groups), group, runs, size)
        notify(callbacks, "on_compile_start", size)
        seconds = compile_runs(group.config, runs, size, devices, k)
        notify(callbacks, "on_compile_end", seconds)
        compile_seconds += seconds
    total = sum(c * g.config.num_updates for g, (_, c, _) in zip(groups, shapes, strict=True))
    notify(callbacks, "on_train_start", total)
    metrics: list[dict[str, np.ndarray]] = [{} for _ in settings]
    states: list[Any] = [None for _ in settings]
    run_seconds, env_steps = 0.0, 0
    for index, (group, (size, _, k)) in enumerate(zip(groups, shapes, strict=True)):
        notify(callbacks, "on_group_train", index, len(groups))
        per_setting = (
            []
            if setting_callbacks is None
            else [_PerSetting(group, configs, num_seeds, setting_callbacks)]
        )
        run_seeds, hparams = group_inputs(group, configs, seeds)
        out = train_runs(
            group.config,
            run_seeds,
            hparams,
            size,
            devices,
            [*callbacks, *per_setting],
            k,
            keep_states,
        )
        for j, i in enumerate(group.setting_ids):
            rows = slice(j * num_seeds, (j + 1) * num_seeds)
            metrics[i] = {n: v[rows] for n, v in out.metrics.items()}
            if keep_states:
                states[i] = jax.tree.map(lambda x, r=rows: x[r], out.runner_state)
        run_seconds += out.run_seconds
        env_steps += len(run_seeds) * group.config.env_steps_per_run
    return SweepResult(
        config=config,
        settings=settings,
        configs=configs,
        seeds=seeds,
        metrics=metrics,
        num_programs=len(groups),
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        env_steps_per_second=env_steps / max(run_seconds, 1e-9),
        layout={
            "devices": len(devices),
            "platform": devices[0].platform,
            "jax": jax.__version__,
            "runs_per_call": [size for size, _, _ in shapes],
            "chunk_updates": [k for _, _, k in shapes],
        },
        runner_states=states if keep_states else None,
    )


__all__ = [
    "STATIC_FIELDS",
    "Choice",
    "Distribution",
    "LogUniform",
    "SweepResult",
    "Uniform",
    "expand_space",
    "plan_groups",
    "rerun_member",
    "sweep",
]
