"""A single progress bar for a chunked run, however many seeds and settings it vmaps."""

from __future__ import annotations

import sys
import time
import warnings
from typing import IO, Any

import numpy as np

from purejaxppo.config import PPOConfig


class ProgressBar:
    """Driver callback: one tqdm bar with updates done / total, env steps/s over all runs, and
    the mean return across runs of the episodes that finished in the latest chunk.

    The numbers of the latest chunk stay readable in `last` (keys `done`, `total`,
    `steps_per_second`, `mean_return`) and `chunks` counts the `on_chunk` calls, so a caller
    (or a test) can check what the bar shows. With `enabled=False` nothing is drawn.

    With `total`, one bar follows several driver calls (e.g. the calls of a sweep): it counts
    their updates up to `total`, with percentage and ETA, and stays open until `close()`.
    """

    def __init__(
        self,
        enabled: bool = True,
        file: IO[str] | None = None,
        desc: str = "training",
        total: int | None = None,
    ):
        self.enabled = enabled
        self.file = file
        self.desc = desc
        self.span = total  # updates over all the calls followed; None: one call's
        self.chunks = 0
        self.last: dict[str, float] = {}
        self._bar = None
        self._done = 0
        self._opened = False

    def on_start(self, config: PPOConfig, seeds: np.ndarray, start_update: int) -> None:
        """Opens the bar at `start_update` of `config.num_updates` (a resumed run starts part way);
        with `total`, opens it at 0 of `total` on the first call and keeps counting after."""
        self._steps_per_update = config.batch_size * len(seeds)
        self._last_time = time.perf_counter()
        if self.span is not None and self._opened:
            return
        self._opened = True
        self._done = 0 if self.span is not None else start_update
        self._total = config.num_updates if self.span is None else self.span
        self.chunks = 0
        if not self.enabled:
            return
        from tqdm import tqdm

        self._bar = tqdm(
            total=self._total,
            initial=self._done,
            unit="upd",
            desc=self.desc,
            file=self.file if self.file is not None else sys.stderr,
            dynamic_ncols=True,
            mininterval=0.5,
        )

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        """Advances by the chunk's k updates (`metrics`: name -> `[runs, k]`)."""
        k = metrics["env_steps"].shape[1]
        now = time.perf_counter()
        rate = k * self._steps_per_update / max(now - self._last_time, 1e-9)
        self._last_time = now
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            per_run = np.nanmean(np.asarray(metrics["episode_return"], np.float64), axis=1)
            mean_return = float(np.nanmean(per_run))  # NaN when no run finished an episode
        self._done += k
        self.chunks += 1
        self.last = {
            "done": self._done,
            "total": self._total,
            "steps_per_second": rate,
            "mean_return": mean_return,
        }
        if self._bar is not None:
            self._bar.set_postfix_str(
                f"{rate:,.0f} steps/s, return {mean_return:.1f}", refresh=False
            )
            self._bar.update(k)

    def describe(self, text: str) -> None:
        """Sets the text in front of the bar (e.g. which call of a sweep is training)."""
        self.desc = text
        if self._bar is not None:
            self._bar.set_description_str(text, refresh=False)

    def on_end(self, result: Any) -> None:
        """Closes the bar (also after a run stopped early); with `total`, leaves it open."""
        if self.span is None:
            self.close()

    def close(self) -> None:
        """Closes the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
