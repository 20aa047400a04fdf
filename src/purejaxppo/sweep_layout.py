"""A sweep's batch shapes (devices, runs per call, updates per chunk): planned, recorded in
`sweep.yaml`, and replayed to train one member again bit for bit."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from purejaxppo.config import HPARAM_FIELDS, ConfigError, Hyperparams, PPOConfig
from purejaxppo.driver import default_chunk_updates
from purejaxppo.run_batches import runs_per_call, train_runs
from purejaxppo.sweep_plan import SweepGroup, plan_groups
from purejaxppo.sweep_space import expand_space

SWEEP_FILE = "sweep.yaml"  # the resolved sweep in a sweep folder, layout included


def group_inputs(
    group: SweepGroup, configs: Sequence[PPOConfig], seeds: np.ndarray
) -> tuple[np.ndarray, Hyperparams]:
    """A group's run axis, setting-major: run `j * len(seeds) + k` is setting
    `group.setting_ids[j]` with seed `seeds[k]`.

    Returns:
        (`[runs]` integer seeds, `Hyperparams` with leaves `[runs]`).
    """
    ids = group.setting_ids
    values = {n: np.array([getattr(configs[i].hparams, n) for i in ids]) for n in HPARAM_FIELDS}
    hparams = Hyperparams(**{n: np.repeat(v, len(seeds)) for n, v in values.items()})
    return np.tile(seeds, len(ids)), hparams


def resolve_layout(
    groups: Sequence[SweepGroup],
    num_seeds: int,
    devices: Sequence[Any] | None,
    chunk_updates: int | None = None,
    layout: Mapping[str, Any] | None = None,
) -> tuple[tuple, list[tuple[int, int, int]]]:
    """The batch shapes of a sweep: the devices, and per group (runs per call, calls, updates per
    chunk); with `layout` (as `SweepResult.layout` records it), exactly the recorded ones.

    Raises:
        ConfigError: a `layout` for another number of programs, or for more devices than here.
    """
    devices = tuple(devices or jax.devices())
    if layout is not None:
        keys = ("devices", "runs_per_call", "chunk_updates")
        if not isinstance(layout, Mapping) or any(k not in layout for k in keys):
            raise ConfigError(
                f"layout: must be the mapping sweep.yaml records ({', '.join(keys)}); drop the "
                "layout: key to plan the calls anew"
            )
        want, sizes = int(layout["devices"]), list(layout["runs_per_call"])
        if len(sizes) != len(groups):
            raise ConfigError(
                f"the layout records {len(sizes)} program(s) but this sweep has {len(groups)}; "
                "drop the layout: key to plan the calls anew"
            )
        if want > len(devices):
            raise ConfigError(
                f"the layout was run on {want} devices, this process has {len(devices)}; run on "
                f"{want} (CPU: XLA_FLAGS=--xla_force_host_platform_device_count={want}) or drop "
                "the layout: key (same distribution, other bits)"
            )
        devices = devices[:want]
        if layout.get("platform", devices[0].platform) != devices[0].platform:
            warnings.warn(
                f"the layout was run on {layout['platform']}, this is {devices[0].platform}: "
                "expect the same distribution, not the same bits",
                stacklevel=2,
            )
    shapes = []
    for g, group in enumerate(groups):
        runs = len(group.setting_ids) * num_seeds
        bound = group.max_parallel if layout is None else int(layout["runs_per_call"][g])
        size, calls, _ = runs_per_call(runs, bound, devices)
        k = chunk_updates or default_chunk_updates(group.config.num_updates)
        if layout is not None and chunk_updates is None:
            k = int(layout["chunk_updates"][g])
        shapes.append((size, calls, k))
    return devices, shapes


def rerun_member(
    sweep_dir: str | Path, setting: int, devices: Sequence[Any] | None = None
) -> dict[str, np.ndarray]:
    """Trains setting `setting` of the sweep in `sweep_dir` again, bit for bit: the calls that
    held its runs are rebuilt from `sweep.yaml` (same group, padding, runs per call, devices and
    updates per chunk) and trained again; the other calls are not.

    Returns:
        name -> `[num_seeds, updates]` metrics of that setting's seeds, equal to the sweep's.

    Raises:
        ConfigError: not a sweep folder, a setting out of range, or fewer devices than recorded.
    """
    from purejaxppo.loading import config_from_dict, read_yaml_mapping

    path = Path(sweep_dir) / SWEEP_FILE
    if not path.is_file():
        raise ConfigError(f"{sweep_dir} is not a sweep folder: {SWEEP_FILE} is missing")
    data = read_yaml_mapping(path)
    if "layout" not in data:
        raise ConfigError(f"{path} records no layout: key, so its batches cannot be rebuilt")
    settings = expand_space(data["list"])
    if not (isinstance(setting, int) and 0 <= setting < len(settings)):
        raise ConfigError(f"setting {setting!r} is not in the sweep: it has 0..{len(settings) - 1}")
    config, num_seeds = config_from_dict(data["config"], source=str(path)), int(data["seeds"])
    configs, groups = plan_groups(config, settings, num_seeds, None)
    devices, shapes = resolve_layout(groups, num_seeds, devices, None, data["layout"])
    g = next(g for g, group in enumerate(groups) if setting in group.setting_ids)
    group, (size, _, k) = groups[g], shapes[g]
    first = group.setting_ids.index(setting) * num_seeds
    calls = list(range(first // size, (first + num_seeds - 1) // size + 1))
    seeds = np.arange(int(data["seed"]), int(data["seed"]) + num_seeds)
    run_seeds, hparams = group_inputs(group, configs, seeds)
    out = train_runs(group.config, run_seeds, hparams, size, devices, (), k, calls=calls)
    rows = slice(first - calls[0] * size, first - calls[0] * size + num_seeds)
    return {n: v[rows] for n, v in out.metrics.items()}
