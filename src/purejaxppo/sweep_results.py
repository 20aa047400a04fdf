"""Sweep results: per-setting final-return statistics (mean, std, IQM, bootstrap CI), ranking, CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.config import Hyperparams, PPOConfig
from purejaxppo.results import run_final_returns
from purejaxppo.stats import bootstrap_mean_interval

BOOTSTRAP_RESAMPLES = 10_000  # resamples of the seeds behind each 95% interval
BOOTSTRAP_SEED = 0  # fixed, so the same returns always give the same interval


def iqm(values: np.ndarray) -> float:
    """Interquartile mean: sort the n finite values, drop the floor(n/4) lowest and the floor(n/4)
    highest, and average the rest (the middle 50%; for n < 4 the plain mean). NaN if none.

    This equals `scipy.stats.trim_mean(values, 0.25)`.
    """
    x = np.sort(np.asarray(values, dtype=np.float64)[np.isfinite(values)])
    if x.size == 0:
        return math.nan
    cut = x.size // 4
    return float(x[cut : x.size - cut].mean())


def bootstrap_ci(
    values: np.ndarray,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (one per seed), NaNs ignored.

    `purejaxppo.stats.bootstrap_mean_interval` with `resamples` draws of the seeds: the
    (1 - level) / 2 and (1 + level) / 2 percentiles of the resampled means. (NaN, NaN) when there
    is no finite value; (v, v) for a single finite value v.
    """
    _, low, high = bootstrap_mean_interval(np.ravel(values), level, resamples, seed)
    return float(low), float(high)


def rank_order(means: np.ndarray) -> np.ndarray:
    """Indices that sort settings best first: highest mean, ties kept in setting order, NaN last."""
    m = np.asarray(means, dtype=np.float64)
    return np.lexsort((np.arange(m.size), -np.nan_to_num(m, nan=-np.inf), np.isnan(m)))


@dataclasses.dataclass
class SweepResult:
    """Every run of a sweep and the per-setting statistics of their final returns.

    Final return: `purejaxppo.results.run_final_returns`, the mean episode return over the last
    10% of updates, or the last evaluation's mean return when the sweep evaluated while training
    (`eval_every`). Settings are ranked by the mean of their seeds' final returns.
    """

    config: PPOConfig  # the base config the space was applied to
    settings: list[dict[str, Any]]  # [settings] the swept field -> value of each setting
    configs: list[PPOConfig]  # [settings] the full config of each setting
    seeds: np.ndarray  # [seeds] the integer seeds every setting ran with
    metrics: list[dict[str, np.ndarray]]  # [settings] name -> [seeds, updates]
    num_programs: int  # compiled programs (one per static config)
    compile_seconds: float
    run_seconds: float
    env_steps_per_second: float  # over all runs
    # the batch shapes: devices, platform, jax, runs_per_call and chunk_updates per program
    layout: dict[str, Any] | None = None
    runner_states: list[Any] | None = None  # [settings] final states [seeds, ...] (keep_states)

    @property
    def swept_fields(self) -> list[str]:
        """Fields whose value differs between settings, in first-seen order."""
        names = dict.fromkeys(k for s in self.settings for k in s)
        return [n for n in names if len({repr(s.get(n)) for s in self.settings}) > 1]

    @property
    def final_returns(self) -> np.ndarray:
        """`[settings, seeds]` final return of every run (NaN where no episode ended late)."""
        return np.stack([run_final_returns(m)[0] for m in self.metrics])

    def statistics(self) -> dict[str, np.ndarray]:
        """Per setting (`[settings]` each): mean, std (ddof 0), iqm, ci_low, ci_high, n (finite
        seeds), and rank (1 = best)."""
        finals = self.final_returns
        finite = np.isfinite(finals)
        n = finite.sum(axis=1)
        safe = np.where(finite, finals, 0.0)
        mean = np.where(n > 0, safe.sum(axis=1) / np.maximum(n, 1), np.nan)
        var = np.where(finite, (finals - mean[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(n, 1)
        cis = np.array([bootstrap_ci(row) for row in finals]).reshape(-1, 2)
        rank = np.empty(len(finals), dtype=np.int64)
        rank[rank_order(mean)] = np.arange(1, len(finals) + 1)
        return {
            "mean": mean,
            "std": np.where(n > 0, np.sqrt(var), np.nan),
            "iqm": np.array([iqm(row) for row in finals]),
            "ci_low": cis[:, 0],
            "ci_high": cis[:, 1],
            "n": n,
            "rank": rank,
        }

    def ranking(self) -> list[int]:
        """Setting indices, best first."""
        return [int(i) for i in rank_order(self.statistics()["mean"])]

    def best(self) -> tuple[Hyperparams, PPOConfig]:
        """(the best setting's `Hyperparams`, its full `PPOConfig`, trainable as it is)."""
        config = self.configs[self.ranking()[0]]
        return config.hparams, config

    def csv_text(self) -> str:
        """The ranked table as CSV: rank, setting, swept fields, statistics, one column per seed."""
        stats, fields = self.statistics(), self.swept_fields
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            ["rank", "setting", *fields, "final_return_mean", "final_return_std"]
            + ["final_return_iqm", "ci95_low", "ci95_high", "num_seeds"]
            + [f"seed_{int(s)}" for s in self.seeds]
        )
        finals = self.final_returns
        for i in self.ranking():
            values = [_cell(self.settings[i].get(f, "")) for f in fields]
            numbers = [stats[k][i] for k in ("mean", "std", "iqm", "ci_low", "ci_high")]
            writer.writerow(
                [stats["rank"][i], i, *values, *map(_cell, numbers), int(stats["n"][i])]
                + [_cell(x) for x in finals[i]]
            )
        return buffer.getvalue()

    def to_csv(self, path: str | Path) -> Path:
        """Writes `csv_text()` to `path` atomically; returns the path."""
        from purejaxppo.io.files import atomic_write_text

        return atomic_write_text(path, self.csv_text())

    def table(self, top: int | None = None) -> str:
        """A plain-text ranked table (best first) of the `top` settings (default all)."""
        stats, fields = self.statistics(), self.swept_fields
        head = f"{'rank':>4}  " + "".join(f"{f:>14}" for f in fields)
        head += f"  {'mean':>9} {'std':>8} {'IQM':>9}  {'95% CI':>19}"
        lines = [
            f"final return = {run_final_returns(self.metrics[0])[1]}; "
            f"{len(self.seeds)} seed{'s' if len(self.seeds) != 1 else ''} per setting",
            head,
        ]
        for i in self.ranking()[:top]:
            row = f"{stats['rank'][i]:>4}  " + "".join(
                f"{_short(self.settings[i].get(f, '')):>14}" for f in fields
            )
            row += f"  {stats['mean'][i]:>9.1f} {stats['std'][i]:>8.1f} {stats['iqm'][i]:>9.1f}"
            row += f"  [{stats['ci_low'][i]:>8.1f}, {stats['ci_high'][i]:>8.1f}]"
            lines.append(row)
        return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value).replace(" ", "")


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else repr(float(value))
    return str(value).replace(" ", "") if isinstance(value, list | tuple) else str(value)
