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


def last_evaluation(eval_return: np.ndarray) -> np.ndarray:
    """`[...]` the last finite value along the updates axis of `eval_return [..., updates]`
    (NaN where a run has none)."""
    values = np.asarray(eval_return, dtype=np.float64)
    finite = np.isfinite(values)
    last = values.shape[-1] - 1 - np.argmax(finite[..., ::-1], axis=-1)
    picked = np.take_along_axis(values, last[..., None], axis=-1)[..., 0]
    return np.where(finite.any(axis=-1), picked, np.nan)


def has_evaluations(metrics: dict[str, np.ndarray]) -> bool:
    """True if `metrics` hold at least one in-training evaluation (`eval_every` was on)."""
    values = metrics.get("eval_return")
    return values is not None and bool(np.isfinite(np.asarray(values, np.float64)).any())


def run_final_returns(
    metrics: dict[str, np.ndarray], fraction: float = FINAL_FRACTION
) -> tuple[np.ndarray, str]:
    """Final return of each run, and the sentence that defines it.

    With in-training evaluations (`eval_every` > 0): the last evaluation's mean return over
    fresh episodes (there is always one after the final update). Otherwise: `final_return` of
    the training episodes.

    Returns:
        (`[runs]` final returns, NaN where undefined; the definition used).
    """
    if has_evaluations(metrics):
        return last_evaluation(metrics["eval_return"]), (
            "mean return of the last evaluation (fresh episodes, after the final update)"
        )
    return final_return(metrics["episode_return"], fraction), (
        f"mean episode return over the last {fraction:.0%} of updates"
    )


def missing_final_return_note(config: PPOConfig, metrics: dict[str, np.ndarray]) -> str:
    """Why a run's training final return is NaN, and the budget that would give one: "" when
    every run has one. Episode lengths come from the episodes that did finish."""
    finals = final_return(metrics["episode_return"])
    if np.all(np.isfinite(finals)):
        return ""
    num_updates = np.shape(metrics["episode_return"])[-1]
    window = max(1, math.ceil(FINAL_FRACTION * num_updates))
    steps = window * config.num_steps
    lengths = np.asarray(metrics.get("episode_length", []), np.float64)
    seen = lengths[np.isfinite(lengths)]
    if seen.size:
        longest = int(seen.max())
        need = math.ceil(longest / config.num_steps / FINAL_FRACTION) * config.batch_size
        return (
            f"n/a: no episode finished in the last {window} update(s) ({steps} steps per env) "
            f"of that run; its episodes last up to {longest} steps: raise total_timesteps to at "
            f"least {need:,} so the window spans one, or set eval_every to evaluate"
        )
    total = num_updates * config.num_steps
    return (
        f"n/a: no episode finished in the whole run ({total} steps per env): episodes are "
        "longer than that; raise total_timesteps, or set eval_every to evaluate"
    )


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
        """`[seeds]` final return of each run (see `run_final_returns`: the last evaluation if
        the run evaluated while training, else the training episodes' `final_return`)."""
        return run_final_returns(self.metrics)[0]

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

    def plot(
        self,
        path: str | None = None,
        title: str = "",
        metric: str = "episode_return",
        smooth: int = 0,
    ) -> Any:
        """Learning curve of this result: mean `metric` across seeds vs env steps, with a 95%
        bootstrap band of the mean when there are 2 or more seeds, and the config's
        `reference_return` as a dashed line for return metrics (see
        `purejaxppo.io.plots.learning_curve_figure`).

        Args:
            path: if given, the figure is also written there (.png, .pdf or .svg).
            smooth: trailing window of logged values per seed (0: off); the metrics are untouched.

        Returns:
            The matplotlib `Figure` (still open, so a notebook shows it).
        """
        from purejaxppo.io.plots import learning_curve_figure, save_figure

        fig = learning_curve_figure(
            [(self.config.env_id, self.metrics)],
            title,
            metric=metric,
            smooth=smooth,
            reference_return=self.config.reference_return,
        )
        if path is not None:
            save_figure(fig, path)
        return fig

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict: per-seed final returns, their mean and std, timings."""
        finals, definition = run_final_returns(self.metrics)
        note = (
            ""
            if has_evaluations(self.metrics)
            else missing_final_return_note(self.config, self.metrics)
        )
        return {
            "env_id": self.config.env_id,
            "num_seeds": self.num_seeds,
            "seeds": [int(s) for s in self.seeds],
            "env_steps_per_run": self.config.env_steps_per_run,
            "final_return_definition": definition,
            "final_return_source": "evaluation" if has_evaluations(self.metrics) else "training",
            "final_return_note": note,
            "final_returns": [_json_float(x) for x in finals],
            "final_return_mean": _json_float(_nan_stat(np.nanmean, finals)),
            "final_return_std": _json_float(_nan_stat(np.nanstd, finals)),
            "reference_return": self.config.reference_return,
            "compile_seconds": round(self.compile_seconds, 3),
            "run_seconds": round(self.run_seconds, 3),
            "env_steps_per_second": round(self.env_steps_per_second, 1),
        }


def _nan_stat(stat: Any, values: np.ndarray) -> float:
    """`stat` over the finite values; NaN (without a warning) when there are none."""
    return float(stat(values)) if np.isfinite(values).any() else math.nan


def _json_float(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x
