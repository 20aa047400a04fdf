"""TensorBoard event files through tensorboardX (optional extra): one run folder per seed."""

from __future__ import annotations

import math
import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.config import PPOConfig
from purejaxppo.io.optional import require

FLUSH_SECONDS = 10  # tensorboardX writes in the background and flushes at least this often
INSTALL_HINT = "pip install 'purejaxppo[tensorboard]' (or pip install tensorboardX)"


def require_tensorboardx() -> Any:
    """Imports tensorboardX; raises `ConfigError` with the install command if it is missing."""
    return require("tensorboardX", "--log tensorboard", INSTALL_HINT)


def seed_folder(root: str | Path, seed: int) -> Path:
    """The event-file folder of one seed: `<root>/seed_<seed>` (TensorBoard shows one run each)."""
    return Path(root) / f"seed_{int(seed)}"


class TensorBoardWriter:
    """Driver callback: every metric of every update as a scalar at step = env steps of that run.

    Tags are the metric names (`episode_return`, `approx_kl`, ...) plus `update`; values that are
    NaN (an update in which no episode finished) are left out rather than drawn as gaps or zeros.
    A thread builds and writes the events while the next chunk trains, and tensorboardX puts
    them on disk within `FLUSH_SECONDS`, so TensorBoard follows a run live without the training
    loop waiting; `on_end` writes what is left, then flushes and closes the files. The event
    files are tensorboardX's `FileWriter` with one `Summary` per update (not one per scalar).

    A resumed run (`start_update` > 0) first writes a session-start event at the env steps of
    its first new update: TensorBoard then drops every older event at or past that step, i.e.
    what the interrupted run logged after its last checkpoint, which the resumed run logs again.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._writers: list[Any] = []
        self._seeds: np.ndarray | None = None
        self._next_update = 1

    def on_start(self, config: PPOConfig, seeds: np.ndarray, start_update: int) -> None:
        """Opens one event file per seed under `root/seed_<s>` and starts the writing thread."""
        tensorboardX = require_tensorboardx()
        self._seeds = np.asarray(seeds)
        self._next_update = start_update + 1
        self._writers = [
            tensorboardX.FileWriter(
                str(seed_folder(self.root, s)),
                max_queue=1000,
                flush_secs=FLUSH_SECONDS,
                # tensorboardX names files by the second and opens them with "wb": without a
                # suffix, a resume within the same second would overwrite the earlier file.
                filename_suffix=f".from_update_{start_update:09d}",
            )
            for s in self._seeds
        ]
        if start_update > 0:
            self._purge_from((start_update + 1) * config.batch_size)
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name="tensorboard-writer", daemon=True)
        self._thread.start()

    def _purge_from(self, step: int) -> None:
        """TensorBoard's restart marker (what tensorboardX's `SummaryWriter(purge_step=...)`
        writes): events of earlier files at `step` or later are hidden from then on."""
        from tensorboardX.proto.event_pb2 import Event, SessionLog

        for writer in self._writers:
            writer.add_event(Event(step=step, file_version="brain.Event:2"))
            writer.add_event(Event(step=step, session_log=SessionLog(status=SessionLog.START)))

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        """Hands the chunk (`metrics`: name -> `[seeds, k]`) to the writing thread and returns:
        the events are built and written while the next chunk trains."""
        self._queue.put((self._next_update, {n: np.asarray(v) for n, v in metrics.items()}))
        self._next_update += metrics["env_steps"].shape[1]

    def _drain(self) -> None:
        from tensorboardX.proto.summary_pb2 import Summary

        while (item := self._queue.get()) is not None:
            first_update, metrics = item
            steps = metrics["env_steps"]
            names = [n for n in metrics if n != "env_steps"]
            values = np.stack([np.asarray(metrics[n], np.float64) for n in names], axis=-1)
            for i, writer in enumerate(self._writers):
                for u in range(steps.shape[1]):
                    scalars = [Summary.Value(tag="update", simple_value=first_update + u)]
                    scalars += [
                        Summary.Value(tag=name, simple_value=v)
                        for name, v in zip(names, values[i, u].tolist(), strict=True)
                        if not math.isnan(v)
                    ]
                    writer.add_summary(Summary(value=scalars), global_step=int(steps[i, u]))

    def on_end(self, result: Any) -> None:
        """Writes what is queued, then flushes and closes every event file (also after a run
        stopped early)."""
        if self._writers:
            self._queue.put(None)
            self._thread.join()
        for writer in self._writers:
            writer.close()
        self._writers = []
