"""Plans a sweep's programs: settings grouped by static config, runs per call bounded by memory."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from purejaxppo.config import ENV_FIELDS, HPARAM_FIELDS, ConfigError, PPOConfig
from purejaxppo.loading import config_from_dict, config_to_dict
from purejaxppo.train import make_train

MEMORY_FRACTION = 0.5  # share of device (or host) memory a sweep's calls may plan to use
METRIC_FIELDS = 13  # scalars per update in `Metrics`


def estimate_run_bytes(config: PPOConfig) -> int:
    """A rough estimate of the device bytes one run of `config` needs while training.

    Four copies of the runner state (params, gradients, two Adam moments and the env state),
    three of one rollout (transitions, advantages and a shuffled minibatch copy) and the
    `[updates]` metrics. Not checked against measured memory peaks.
    """
    train = make_train(config)
    state = jax.eval_shape(train.init, jax.random.PRNGKey(0), config.hparams)
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state))
    obs_size = int(np.prod(state.obs.shape[1:]))
    rollout = config.num_steps * config.num_envs * (obs_size + 12) * 4
    return 4 * state_bytes + 3 * rollout + config.num_updates * METRIC_FIELDS * 4


def host_memory_bytes() -> int:
    """Physical memory of this machine in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def device_memory_bytes(devices: list | None = None) -> int:
    """Memory the devices can give a sweep: `MEMORY_FRACTION` of their total (of host RAM on CPU).

    Only this process's devices can be asked; with several processes (`jax.distributed`) the
    others are taken to be alike: this process's figure times the share of devices it holds."""
    devices = devices or jax.devices()
    local = [d for d in devices if d.process_index == jax.process_index()] or devices
    limits = [(d.memory_stats() or {}).get("bytes_limit") for d in local]
    if any(limit is None for limit in limits):
        processes = len({d.process_index for d in devices})
        return int(MEMORY_FRACTION * host_memory_bytes()) * processes
    return int(MEMORY_FRACTION * sum(limits) * len(devices) / len(local))


def resolve_max_parallel(
    config: PPOConfig, num_runs: int, max_parallel: int | None, budget: int | None = None
) -> int:
    """Runs per call for a sweep of `num_runs` runs of `config`.

    Returns `max_parallel` when given (checked against the estimate), else the most runs that fit
    in `budget` bytes (default `device_memory_bytes()`), at most `num_runs`.

    Raises:
        ConfigError: no runs, `max_parallel` < 1, results that do not fit in host memory, or
            calls of `max_parallel` runs that would need more than the budget.
    """
    if num_runs < 1:
        raise ConfigError("the sweep has no runs (settings x seeds = 0); add settings or seeds")
    if max_parallel is not None and (isinstance(max_parallel, bool) or max_parallel < 1):
        raise ConfigError(f"max_parallel must be a positive integer, got {max_parallel!r}")
    results = num_runs * config.num_updates * METRIC_FIELDS * 4
    if results > MEMORY_FRACTION * host_memory_bytes():
        raise ConfigError(
            f"{num_runs:,} runs x {config.num_updates:,} updates of metrics need "
            f"{results / 2**30:,.1f} GiB, more than half this machine's memory; "
            "sweep fewer settings or seeds"
        )
    budget = device_memory_bytes() if budget is None else budget
    per_run = estimate_run_bytes(config)
    fits = budget // per_run
    if fits < 1:
        raise ConfigError(
            f"one run of this config needs about {per_run / 2**30:.1f} GiB, more than the "
            f"{budget / 2**30:.1f} GiB available; lower num_envs or num_steps"
        )
    if max_parallel is None:
        return int(min(num_runs, fits))
    if max_parallel > fits and min(max_parallel, num_runs) > fits:
        raise ConfigError(
            f"max_parallel={max_parallel} runs need about "
            f"{min(max_parallel, num_runs) * per_run / 2**30:.1f} GiB per call, more than the "
            f"{budget / 2**30:.1f} GiB available; use --max-parallel {fits} or less"
        )
    return int(max_parallel)


def static_key(setting: Mapping[str, Any]) -> tuple:
    """A hashable key of a setting's static fields: settings with equal keys share a program."""
    freeze = lambda v: tuple(v) if isinstance(v, list) else v  # noqa: E731
    items = ((k, freeze(v)) for k, v in setting.items() if k not in HPARAM_FIELDS)
    return tuple(sorted(items, key=repr))


@dataclasses.dataclass
class SweepGroup:
    """Settings that share one static config: one compiled program runs all of them."""

    config: PPOConfig  # the base config with this group's static fields applied
    setting_ids: list[int]  # indices into the sweep's settings
    static: dict[str, Any]  # this group's swept static fields
    max_parallel: int  # runs per call after the memory bound


def plan_groups(
    config: PPOConfig,
    settings: Sequence[Mapping[str, Any]],
    num_seeds: int,
    max_parallel: int | None,
) -> tuple[list[PPOConfig], list[SweepGroup]]:
    """Validates every setting against `config` and groups settings by static config.

    Returns:
        (`[settings]` full config of each setting, the groups in order of first appearance).
    """
    base = config_to_dict(config)
    base.pop("network")  # put back as the object itself: config.yaml's form may not import
    groups: dict[tuple, SweepGroup] = {}
    configs = []
    for i, setting in enumerate(settings):
        key = static_key(setting)
        if key not in groups:
            static = {k: v for k, v in setting.items() if k not in HPARAM_FIELDS}
            values = {**base, **static}
            if any(k in static for k in ENV_FIELDS):  # measured on the base environment
                values.pop("reference_return", None)
            group_config = config_from_dict(values, source="the sweep")
            if "network" not in static:
                group_config = group_config.replace(network=config.network)
            runs = num_seeds * sum(static_key(s) == key for s in settings)
            bound = resolve_max_parallel(group_config, runs, max_parallel)
            groups[key] = SweepGroup(group_config, [], static, bound)
        group = groups[key]
        group.setting_ids.append(i)
        configs.append(
            group.config.replace(**{k: setting[k] for k in setting if k in HPARAM_FIELDS})
        )
    return configs, list(groups.values())
