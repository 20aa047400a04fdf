"""Plain-text metric writers (CSV, JSONL) fed by the chunked driver while a run goes on."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.config import PPOConfig
from purejaxppo.io.files import metric_columns, metrics_csv_text


def _append_synced(path: Path, text: str) -> None:
    """Appends `text` in one write, then flushes and fsyncs, so a crash keeps whole chunks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def with_setting(text: str, setting: int, header: bool, column: str = "setting") -> str:
    """`metrics_csv_text` output with a leading `column` column: the header line (the first
    line, when `header`) gets `<column>,` and every row the index: a sweep's `metrics.csv`
    (`setting`), a population's (`member`)."""
    lines = text.splitlines(keepends=True)
    first = [f"{column}," + lines[0]] if header and lines else []
    return "".join(first + [f"{int(setting)},{line}" for line in lines[len(first) :]])


class CsvWriter:
    """Appends each chunk's rows to `metrics.csv` in one write, flushed and fsynced, so an
    interrupted run keeps every finished update; the header is written once, by the first
    writer to find the file empty.

    With `setting`, every row starts with that setting index (a sweep's `metrics.csv`, where
    one writer per setting appends to the same file): columns `setting, seed, update, ...`.
    """

    def __init__(self, path: str | Path, setting: int | None = None):
        self.path = Path(path)
        self.setting = setting
        self._seeds: np.ndarray | None = None
        self._next_update = 1

    def on_start(self, config: PPOConfig, seeds: np.ndarray, start_update: int) -> None:
        """Remembers the seeds and the first update number."""
        self._seeds = seeds
        self._next_update = start_update + 1

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        """Appends one row per (seed, update) of the chunk (`metrics`: name -> `[seeds, k]`);
        a header first if the file is missing or empty."""
        header = not (self.path.exists() and self.path.stat().st_size > 0)
        text = metrics_csv_text(metrics, self._seeds, self._next_update, header=header)
        if self.setting is not None:
            text = with_setting(text, self.setting, header)
        self._next_update += metrics["env_steps"].shape[1]
        _append_synced(self.path, text)

    def on_end(self, result: Any) -> None:
        """Nothing is buffered: every chunk is already on disk."""


def metrics_jsonl_text(
    metrics: dict[str, np.ndarray],
    seeds: np.ndarray,
    first_update: int = 1,
    setting: int | None = None,
) -> str:
    """One JSON object per (seed, update), keys in `metric_columns` order (after `setting`, when
    given), NaN written as null.

    Args:
        metrics: name -> `[seeds, k]` arrays (must include `env_steps`).
        seeds: `[seeds]` seed of each row block.
        first_update: the 1-based update number of column 0.
        setting: a sweep's setting index, written first in every object.
    """
    names = metric_columns(metrics)[3:]
    num_seeds, k = metrics["env_steps"].shape
    lines = []
    for s in range(num_seeds):
        for u in range(k):
            row: dict[str, Any] = {} if setting is None else {"setting": int(setting)}
            row |= {
                "seed": int(seeds[s]),
                "update": first_update + u,
                "env_steps": int(metrics["env_steps"][s, u]),
            }
            for name in names:
                value = np.asarray(metrics[name])[s, u]
                if np.issubdtype(value.dtype, np.integer):
                    row[name] = int(value)
                else:
                    row[name] = None if math.isnan(float(value)) else float(value)
            lines.append(json.dumps(row))
    return "".join(line + "\n" for line in lines)


class JsonlWriter(CsvWriter):
    """Like `CsvWriter`, but appends JSON lines (`metrics.jsonl`): no header, NaN as null."""

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        """Appends one JSON line per (seed, update) of the chunk."""
        text = metrics_jsonl_text(metrics, self._seeds, self._next_update, self.setting)
        self._next_update += metrics["env_steps"].shape[1]
        _append_synced(self.path, text)
