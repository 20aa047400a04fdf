"""Search strategies at equal compute: a grid sweep of N settings, PBT with N members, successive
halving of N settings, and batched Optuna with N trials (two rounds of N/2), each training N runs
of the same budget, so every strategy spends the same env steps. Repeated over experiment seeds.

Usage: python benchmarks/search_strategies.py [--config cartpole] [--steps 200000] [--members 8]
       [--experiments 3] [--low 1e-5] [--high 1e-2] [--name search_strategies]

The space is the learning rate, log-uniform on [low, high]; the grid trains PBT's initial draws
(the same N values), halving starts from them too. Reported per strategy: the mean final return
over its N runs at the end (what the compute bought on average), the best run's final return,
and the wall seconds (compile included).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import fmt, markdown_table, write_results

import purejaxppo  # noqa: F401  (sets the XLA CPU flag before JAX starts)
from purejaxppo.loading import load_config
from purejaxppo.search import optuna_search, pbt, successive_halving
from purejaxppo.search.pbt import initial_hparams
from purejaxppo.sweep import sweep
from purejaxppo.sweep_space import LogUniform


def one_experiment(config, members: int, low: float, high: float, experiment: int) -> dict:
    """{strategy: (mean final return over runs, best final return, seconds)} for one seed."""
    space = {"lr": LogUniform(low, high)}
    seed = 100 * experiment
    draws = [{"lr": float(x)} for x in initial_hparams(config, space, members, experiment).lr]
    out = {}
    start = time.perf_counter()
    grid = sweep(config, draws, num_seeds=1, seed=seed).final_returns.ravel()
    out["grid"] = (grid, time.perf_counter() - start)
    start = time.perf_counter()
    result = pbt(config, space, members, ready_every=20, seed=seed, search_seed=experiment)
    out["pbt"] = (result.final_returns, time.perf_counter() - start)
    start = time.perf_counter()
    halving = successive_halving(config, draws, eta=2, seed=seed)
    out["halving"] = (_finals(halving.run), time.perf_counter() - start)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        study = optuna_search(config, space, members // 2, 2, Path(folder) / "study.db",
                              sampler_seed=experiment, seed=seed)  # fmt: skip
        values = np.asarray([t["value"] for t in study.trials], np.float64)
    out["optuna"] = (values, time.perf_counter() - start)
    return out


def _finals(run) -> np.ndarray:
    from purejaxppo.results import final_return

    return final_return(run.metrics["episode_return"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cartpole")
    parser.add_argument("--steps", type=int, default=200_000, help="env steps per run")
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--experiments", type=int, default=3)
    parser.add_argument("--low", type=float, default=1e-5)
    parser.add_argument("--high", type=float, default=1e-2)
    parser.add_argument("--name", default="search_strategies")
    args = parser.parse_args()
    config = load_config(args.config, [f"total_timesteps={args.steps}"])
    rows = []
    for experiment in range(args.experiments):
        results = one_experiment(config, args.members, args.low, args.high, experiment)
        for strategy, (finals, seconds) in results.items():
            rows.append([experiment, strategy, fmt(np.nanmean(finals)), fmt(np.nanmax(finals)),
                         fmt(seconds, 0)])  # fmt: skip
            print(rows[-1], flush=True)
    headers = ["experiment", "strategy", "mean final return of its runs", "best run", "wall s"]
    notes = [
        f"{args.config} at {config.env_steps_per_run:,} env steps per run, {args.members} runs "
        f"per strategy (equal env steps), lr log-uniform on [{args.low:g}, {args.high:g}].",
        "grid: `sweep` of PBT's initial draws; pbt: ready_every 20, quantile 0.25; halving: "
        "eta 2 from the same draws (freed rows continue as copies of survivors, so 'its runs' "
        f"are the {args.members} rows at the end); optuna: TPE, 2 rounds of {args.members // 2}.",
        "final return: mean training return over the last 10% of updates.",
    ]
    write_results(
        args.name, "Search strategies at equal compute (CPU)", markdown_table(headers, rows), notes
    )


if __name__ == "__main__":
    main()
