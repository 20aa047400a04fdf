"""Weights & Biases logging (optional extra): one W&B run per seed, grouped by the run name."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.io.optional import require

INSTALL_HINT = "pip install 'purejaxppo[wandb]' (or pip install wandb)"


def require_wandb() -> Any:
    """Imports wandb; raises `ConfigError` with the install command if it is missing."""
    return require("wandb", "--log wandb", INSTALL_HINT)


class WandbWriter:
    """Driver callback: logs every update of every seed to its own W&B run.

    Runs share `group=name` (W&B's UI overlays and aggregates them), are named `<name>-seed<s>`,
    and carry the flat config plus `seed` as their config. W&B's step is the update number;
    `env_steps` is logged too and declared as the x-axis of every other metric. `WANDB_MODE`
    (e.g. `offline`), `WANDB_DIR`, `WANDB_PROJECT` and `WANDB_ENTITY` are honoured as usual;
    without `WANDB_DIR` the run files go under `dir`.
    """

    def __init__(
        self,
        name: str,
        config_dict: Mapping[str, Any],
        project: str | None = None,
        entity: str | None = None,
        dir: str | Path | None = None,
    ):
        self.name = name
        self.config_dict = dict(config_dict)
        self.project = project
        self.entity = entity
        self.dir = None if dir is None else Path(dir)
        self.runs: list[Any] = []
        self._next_update = 1

    def on_start(self, config: PPOConfig, seeds: np.ndarray, start_update: int) -> None:
        """Starts one W&B run per seed (`reinit="create_new"`: several runs at once)."""
        wandb = require_wandb()
        self._next_update = start_update + 1
        run_dir = None
        if self.dir is not None and not os.environ.get("WANDB_DIR"):
            self.dir.mkdir(parents=True, exist_ok=True)
            run_dir = str(self.dir)
        try:
            for seed in np.asarray(seeds):
                run = wandb.init(
                    project=self.project or os.environ.get("WANDB_PROJECT") or "purejaxppo",
                    entity=self.entity,
                    group=self.name,
                    name=f"{self.name}-seed{int(seed)}",
                    job_type="train",
                    config={**self.config_dict, "seed": int(seed)},
                    dir=run_dir,
                    reinit="create_new",
                )
                run.define_metric("env_steps")
                run.define_metric("*", step_metric="env_steps")
                self.runs.append(run)
        except Exception as error:  # wandb raises its own types (no login, no network, ...)
            self.on_end(None)
            raise ConfigError(
                f"W&B could not start a run ({type(error).__name__}: {error}); "
                "run `wandb login` or set WANDB_MODE=offline"
            ) from error

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: Any) -> None:
        """Logs one W&B step per update of the chunk (`metrics`: name -> `[seeds, k]`)."""
        arrays = {n: np.asarray(v) for n, v in metrics.items()}
        k = arrays["env_steps"].shape[1]
        for i, run in enumerate(self.runs):
            for u in range(k):
                row: dict[str, Any] = {"update": self._next_update + u}
                for name, values in arrays.items():
                    value = values[i, u]
                    if np.issubdtype(value.dtype, np.integer):
                        row[name] = int(value)
                    elif not math.isnan(float(value)):
                        row[name] = float(value)
                run.log(row, step=self._next_update + u)
        self._next_update += k

    def on_end(self, result: Any) -> None:
        """Finishes every run (exit code 1 if the training was stopped early)."""
        exit_code = 1 if result is not None and not getattr(result, "completed", True) else 0
        for run in self.runs:
            run.finish(exit_code=exit_code)
        self.runs = []
