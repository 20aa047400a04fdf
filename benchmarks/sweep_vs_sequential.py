"""Benchmark: a 16-setting x 4-seed CartPole sweep as one program vs the same 64 runs one by one.

    python benchmarks/sweep_vs_sequential.py            # 64 runs of 1e5 env steps each
    python benchmarks/sweep_vs_sequential.py --quick    # 64 runs of 4,096 env steps (a smoke test)

Prints a markdown table and writes it, with the machine and a figure, to
benchmarks/results/sweep_vs_sequential.md (.png).
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np
from common import bar_panels, figures_note, write_results

import purejaxppo  # noqa: F401 - applies the XLA CPU flag before JAX starts
from purejaxppo import load_config
from purejaxppo.results import final_return
from purejaxppo.sweep import sweep

SPACE = {"lr": [1e-4, 3e-4, 1e-3, 3e-3], "ent_coef": [0.0, 0.003, 0.01, 0.03]}  # 16 settings
SEEDS = 4


def sequential(config, settings) -> dict[str, float]:
    """The 64 runs one after another with one `jit(train)` (compiled once, as fairly as possible)."""
    train = jax.jit(purejaxppo.make_train(config))
    hp0 = config.hparams
    start = time.perf_counter()
    compiled = train.lower(jax.random.PRNGKey(0), hp0).compile()
    compile_seconds = time.perf_counter() - start
    finals = []
    start = time.perf_counter()
    for setting in settings:
        hp = hp0.replace(**setting)
        for k in range(SEEDS):
            out = compiled(jax.random.PRNGKey(k), hp)
            finals.append(float(final_return(np.asarray(out.metrics.episode_return))))
    return {
        "compile": compile_seconds,
        "run": time.perf_counter() - start,
        "finals": np.array(finals).reshape(len(settings), SEEDS),
    }


def main() -> None:
    """Runs both ways, prints the table and writes the markdown file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,096 env steps per run")
    parser.add_argument("--name", default="sweep_vs_sequential", help="results file name")
    args = parser.parse_args()
    steps = 4096 if args.quick else 100_000
    config = load_config("cartpole", [f"total_timesteps={steps}"])
    load_before = os.getloadavg()

    start = time.perf_counter()
    result = sweep(config, SPACE, num_seeds=SEEDS, seed=0)
    sweep_total = time.perf_counter() - start
    settings = result.settings

    start = time.perf_counter()
    seq = sequential(config, settings)
    seq_total = time.perf_counter() - start
    load_after = os.getloadavg()

    runs = len(settings) * SEEDS
    env_steps = runs * config.env_steps_per_run
    gap = np.nanmax(np.abs(np.nanmean(result.final_returns, 1) - np.nanmean(seq["finals"], 1)))
    rows = [
        ("one program (`sweep`)", sweep_total, result.compile_seconds, result.run_seconds),
        ("64 runs one by one", seq_total, seq["compile"], seq["run"]),
    ]
    lines = [
        "| way | total s | compile s | run s | env steps/s (run) |",
        "|---|---|---|---|---|",
    ]
    for name, total, compile_s, run_s in rows:
        lines.append(
            f"| {name} | {total:.1f} | {compile_s:.1f} | {run_s:.1f} | {env_steps / run_s:,.0f} |"
        )
    lines += [
        "",
        f"Speedup of the sweep: {seq_total / sweep_total:.1f}x in total time, "
        f"{seq['run'] / result.run_seconds:.1f}x in run time. "
        f"Largest gap between the two ways' mean final return of a setting: {gap:.3g} "
        "(float rounding differs between a vmapped and a single run and grows over training).",
    ]
    body = "\n".join(lines)
    print(body)
    notes = [
        f"{figures_note()} CartPole-v1, {len(settings)} settings (lr x ent_coef) x {SEEDS} seeds "
        f"= {runs} runs of {config.env_steps_per_run:,} env steps ({config.num_updates} updates, "
        f"num_envs={config.num_envs}, num_steps={config.num_steps}).",
        "Load average (1, 5, 15 min) before: "
        f"{', '.join(f'{x:.2f}' for x in load_before)}; after: "
        f"{', '.join(f'{x:.2f}' for x in load_after)}.",
    ]
    fig = bar_panels(
        [
            {
                "labels": ["compile", "run", "total"],
                "series": {name: [c, r, t] for name, t, c, r in rows},
                "ylabel": "seconds",
                "title": f"{runs} CartPole runs of {config.env_steps_per_run:,} env steps",
            }
        ],
        "A sweep as one program vs one run after another",
    )
    path = write_results(args.name, "Sweep as one program vs sequential runs", body, notes, fig)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
