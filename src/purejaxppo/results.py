"""Host-side results of a training call: NumPy metrics, the final-return definition, timings."""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np

from purejaxppo.config import Hyperparams, PPOConfig

FINAL_FRACTION = 0.1  # "final return" = mean episode return over the last 10% of updates


def final_return(episode_return: np.ndarray, fraction: float = FINAL_FRACTION) -> np.ndarray:
    """The project's one definition of a run's final return.

    The mean of the per-update mean episode returns over the last `fraction` of updates (at
    least one), ignoring updates in which no episode finished (NaN).

    Args:
        episode_return: `[..., updates]` per-update mean returns (NaN where none finished).

    Returns:
        `[...]`: NaN where no episode finished in that window.
    """
    returns = np.asarray(episode_return, dtype=np.float64)
    window = max(1, math.ceil(fraction * returns.shape[-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN windows give NaN
        return np.nanmean(returns[..., -window:], axis=-1)


@dataclasses.dataclass
class TrainResult:
    """The outcome of `train_seeds`: metrics shaped `[seeds, updates]` and the final state."""

    config: PPOConfig
    hparams: Hyperparams
    seeds: np.ndarray  # [seeds] the integer seed of each run
    metrics: dict[str, np.ndarray]  # name -> [seeds, updates]
    runner_state: Any  # final RunnerState, leaves with a leading [seeds] axis (device arrays)
    compile_seconds: float  # time spent compiling in this call (0 when reused from the cache)
    run_seconds: float  # time of the compiled run alone
    env_steps_per_second: float  # over all seeds
    completed: bool = True  # False when a chunked run was stopped before its last update

    @property
    def num_seeds(self) -> int:
        """Number of runs."""
        return int(self.seeds.shape[0])

    @property
    def final_returns(self) -> np.ndarray:
        """`[seeds]` final return of each run (see `final_return`)."""
        return final_return(self.metrics["episode_return"])

    def to_dataframe(self) -> Any:
        """The metrics in long format, one row per (seed, update), for notebooks.

        Returns:
            A `pandas.DataFrame` with columns `seed`, `update` (1-based, as in metrics.csv),
            `env_steps`, then every other metric; `seeds x updates` rows.

        Raises:
            ImportError: pandas is not installed (with the install command).
        """
        try:
            import pandas as pd
        except ImportError as error:
            raise ImportError(
                "TrainResult.to_dataframe needs pandas: pip install 'purejaxppo[pandas]'"
            ) from error
        steps = np.asarray(self.metrics["env_steps"])
        num_seeds, num_updates = steps.shape
        update = getattr(self.runner_state, "update", None)  # a resumed run starts part way
        last = num_updates if update is None else int(np.asarray(update).reshape(-1)[0])
        first = last - num_updates + 1
        columns = {
            "seed": np.repeat(np.asarray(self.seeds), num_updates),
            "update": np.tile(np.arange(first, first + num_updates), num_seeds),
            "env_steps": steps.reshape(-1),
        }
        columns.update({n: np.asarray(v).reshape(-1) for n, v in self.metrics.items()})
        return pd.DataFrame(columns)

    def plot(self, path: str | None = None, title: str = "", metric: str = "episode_return") -> Any:
        """Learning curve of this result: mean `metric` across seeds and a 95% bootstrap band
        vs env steps (see `purejaxppo.io.plots.learning_curve_figure`).

        Args:
            path: if given, the figure is also written there (.png, .pdf or .svg).

        Returns:
            The matplotlib `Figure` (still open, so a notebook shows it).
        """
        from purejaxppo.io.plots import learning_curve_figure, save_figure

        fig = learning_curve_figure([(self.config.env_id, self.metrics)], title, metric=metric)
        if path is not None:
            save_figure(fig, path)
        return fig

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict: per-seed final returns, their mean and std, timings."""
        finals = self.final_returns
        return {
            "env_id": self.config.env_id,
            "num_seeds": self.num_seeds,
            "seeds": [int(s) for s in self.seeds],
            "env_steps_per_run": self.config.env_steps_per_run,
            "final_return_definition": f"mean episode return over the last "
            f"{FINAL_FRACTION:.0%} of updates",
            "final_returns": [_json_float(x) for x in finals],
            "final_return_mean": _json_float(np.nanmean(finals) if finals.size else np.nan),
            "final_return_std": _json_float(np.nanstd(finals) if finals.size else np.nan),
            "reference_return": self.config.reference_return,
            "compile_seconds": round(self.compile_seconds, 3),
            "run_seconds": round(self.run_seconds, 3),
            "env_steps_per_second": round(self.env_steps_per_second, 1),
        }


def _json_float(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x
