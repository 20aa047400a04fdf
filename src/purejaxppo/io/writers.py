"""Metric writers fed by the chunked driver while a run goes on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.config import PPOConfig
from purejaxppo.io.files import metrics_csv_text


class CsvWriter:
    """Appends each chunk's rows to `metrics.csv` in one write, flushed and fsynced, so an
    interrupted run keeps every finished update; the header is written once."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._seeds: np.ndarray | None = None
        self._next_update = 1

    def on_start(self, config: PPOConfig, seeds: np.ndarray, start_update: int) -> None:
        self._seeds = seeds
        self._next_update = start_update + 1
        self._header = not (self.path.exists() and self.path.stat().st_size > 0)

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        text = metrics_csv_text(metrics, self._seeds, self._next_update, header=self._header)
        self._header = False
        self._next_update += metrics["env_steps"].shape[1]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
