"""A single progress bar for a chunked run, however many seeds and settings it vmaps."""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any

import numpy as np

from purejaxppo.config import PPOConfig


class ProgressBar:
    """Driver callback: updates done / total, env steps/s, and the latest mean return across runs."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._bar = None

    def on_start(self, config: PPOConfig, seeds: np.ndarray, start_update: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        self._steps_per_update = config.batch_size * len(seeds)
        self._last_time = time.perf_counter()
        self._bar = tqdm(
            total=config.num_updates,
            initial=start_update,
            unit="upd",
            desc="training",
            file=sys.stderr,
            dynamic_ncols=True,
            mininterval=0.5,
        )

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        if self._bar is None:
            return
        k = metrics["env_steps"].shape[1]
        now = time.perf_counter()
        rate = k * self._steps_per_update / max(now - self._last_time, 1e-9)
        self._last_time = now
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            latest = np.nanmean(metrics["episode_return"], axis=1)  # per run, over this chunk
            mean_return = float(np.nanmean(latest))
        self._bar.set_postfix_str(f"{rate:,.0f} steps/s, return {mean_return:.1f}", refresh=False)
        self._bar.update(k)

    def on_end(self, result: Any) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
