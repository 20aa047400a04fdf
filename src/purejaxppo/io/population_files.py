"""Files of a population search (PBT, halving): metrics per member, lineage, checkpoints, the
best member's schedule and the population figure."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.io.checkpoint import CheckpointStore
from purejaxppo.io.files import atomic_write_text, metrics_csv_text
from purejaxppo.io.writers import _append_synced, with_setting
from purejaxppo.loading import config_from_dict, config_to_dict
from purejaxppo.search.population import PopulationState, state_arrays, state_from_arrays

LINEAGE_FILE = "lineage.csv"
SCHEDULE_FILE = "best_schedule.yaml"


class MemberCsvWriter:
    """Appends each interval's rows to `metrics.csv`, one row per (member, update): columns
    `member, seed, update, env_steps, ...` (flushed and fsynced per interval)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._seeds = np.zeros(0, np.int64)
        self._next_update = 1

    def on_start(self, config: PPOConfig, seeds: np.ndarray, start_update: int) -> None:
        """Remembers the members' seeds and the first update number."""
        self._seeds, self._next_update = np.asarray(seeds), start_update + 1

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        """Appends the chunk (`metrics`: name -> `[members, k]`); a header first if the file is
        missing or empty."""
        header = not (self.path.exists() and self.path.stat().st_size > 0)
        parts = []
        for member in range(self._seeds.shape[0]):
            rows = {n: v[member : member + 1] for n, v in metrics.items()}
            first = header and member == 0
            text = metrics_csv_text(
                rows, self._seeds[member : member + 1], self._next_update, first
            )
            parts.append(with_setting(text, member, first, column="member"))
        self._next_update += metrics["env_steps"].shape[1]
        _append_synced(self.path, "".join(parts))


def lineage_columns(fields: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """Header of `lineage.csv`: interval, updates, member, parent, score, `extra`, the fields."""
    return ["interval", "start_update", "end_update", "member", "parent", "score", *extra, *fields]


def lineage_rows_text(
    interval: int, row: Mapping[str, Any], fields: Sequence[str], header: bool, extra: Mapping = {}
) -> str:
    """CSV text of one interval's lineage row (`row`: entries `[P]`, updates scalars) with the
    extra columns `extra` (name -> `[P]`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(lineage_columns(fields, tuple(extra)))
    score = np.asarray(row["score"], np.float64)
    for member in range(score.shape[0]):
        writer.writerow(
            [interval, int(row["start_update"]), int(row["end_update"]), member]
            + [
                int(row["parent"][member]),
                "" if np.isnan(score[member]) else repr(float(score[member])),
            ]
            + [int(np.asarray(v)[member]) for v in extra.values()]
            + [str(np.float32(np.asarray(row[n])[member])) for n in fields]  # shortest float32
        )
    return buffer.getvalue()


class LineageWriter:
    """Appends every interval's lineage rows to `lineage.csv` as the interval ends."""

    def __init__(self, path: str | Path, fields: Sequence[str], extra=None):
        self.path, self.fields, self.extra = Path(path), tuple(fields), extra

    def on_interval(self, row: Mapping[str, Any], state: PopulationState) -> None:
        """Appends the rows of interval `state.interval - 1` (`extra(state)` adds columns)."""
        header = not (self.path.exists() and self.path.stat().st_size > 0)
        extra = {} if self.extra is None else self.extra(state)
        text = lineage_rows_text(state.interval - 1, row, self.fields, header, extra)
        _append_synced(self.path, text)


class PopulationCheckpointer:
    """Saves the population's state every `every` intervals, after the last update, and after
    the interval in which `stop` was set (Ctrl-C), so a stopped search resumes where it ended."""

    def __init__(
        self,
        store: CheckpointStore,
        every: int,
        num_updates: int,
        meta: dict,
        stop: threading.Event | None = None,
    ):
        if every < 1:
            raise ConfigError(f"--checkpoint-every must be a positive integer, got {every}")
        self.store, self.every, self.num_updates, self.meta = store, every, num_updates, meta
        self.stop = stop

    def on_interval(self, row: Mapping[str, Any], state: PopulationState) -> None:
        """Saves `state` (runner state plus lineage, metrics and hyperparameters) when due."""
        done = int(np.asarray(state.runner_state.update).reshape(-1)[0])
        stopping = self.stop is not None and self.stop.is_set()
        if stopping or state.interval % self.every == 0 or done == self.num_updates:
            self.store.save(state.runner_state, self.meta, extra=state_arrays(state))


def restore_population(
    store: CheckpointStore, config: PPOConfig, population: int
) -> PopulationState:
    """The newest intact population checkpoint in `store` (see `CheckpointStore.restore`)."""
    checkpoint = store.restore(config, population)
    if checkpoint.extra is None:
        raise ConfigError(f"{store.directory} holds a training checkpoint, not a population's")
    return state_from_arrays(checkpoint.state, checkpoint.extra)


def write_schedule(
    path: str | Path, config: PPOConfig, schedule: list[dict[str, float]], seed: int, note: str
) -> Path:
    """Writes a replayable schedule: `config` (every key), `seed`, and `schedule` (a list of
    `{start_update, field: value}`), after a comment `note`."""
    data = {"config": config_to_dict(config), "seed": int(seed), "schedule": schedule}
    header = "".join(f"# {line}\n" for line in note.splitlines())
    return atomic_write_text(path, header + yaml.safe_dump(data, sort_keys=False))


def read_schedule(path: str | Path) -> tuple[PPOConfig, list[dict[str, float]], int]:
    """(config, schedule, seed) of a file `write_schedule` wrote; `ConfigError` if malformed."""
    try:
        data = yaml.safe_load(Path(path).read_text())
        config = config_from_dict(data["config"], source=str(path))
        schedule, seed = list(data["schedule"]), int(data.get("seed", 0))
        starts = [int(entry["start_update"]) for entry in schedule]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise ConfigError(
            f"{path} is not a schedule file written by purejaxppo pbt ({error})"
        ) from None
    if not starts or starts[0] != 0 or starts != sorted(set(starts)):
        raise ConfigError(
            f"{path}: the schedule's start_update values must begin at 0 and increase"
        )
    return config, schedule, seed


def population_figure(
    metrics: Mapping[str, np.ndarray],
    lineage: Mapping[str, np.ndarray],
    fields: Sequence[str],
    highlight: np.ndarray | None = None,
    log_fields: Sequence[str] = (),
    title: str = "",
) -> Any:
    """One panel of every member's training return against env steps, then one panel per
    searched field: the value each member had in force per interval (a step line); the
    `highlight` chain (`[T]` member per interval, e.g. the best member's ancestry) drawn bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from purejaxppo.io.plots import format_steps_axis

    panels = 1 + len(fields)
    fig, axes = plt.subplots(panels, 1, figsize=(7.0, 2.6 * panels), squeeze=False)
    axes = axes[:, 0]
    steps, returns = metrics["env_steps"], metrics["episode_return"]
    for member in range(returns.shape[0]):
        axes[0].plot(steps[member], returns[member], lw=0.8, alpha=0.6)
    axes[0].set_ylabel("training return")
    axes[0].set_title(title or f"population of {returns.shape[0]}", fontsize=10)
    format_steps_axis(axes[0])
    edges = np.append(lineage["start_update"], lineage["end_update"][-1:])
    for ax, name in zip(axes[1:], fields, strict=True):
        values = np.asarray(lineage[name])
        for member in range(values.shape[1]):
            ax.stairs(values[:, member], edges, baseline=None, lw=0.8, alpha=0.5)
        if highlight is not None:
            chain = values[np.arange(values.shape[0]), highlight]
            ax.stairs(
                chain, edges, baseline=None, lw=2.2, color="black", label="best member's schedule"
            )
            ax.legend(fontsize=7)
        ax.set_ylabel(name)
        if name in log_fields:
            ax.set_yscale("log")
    axes[-1].set_xlabel("update" if fields else "env steps")
    fig.tight_layout()
    return fig
