"""Training throughput and compile time for vmapped seeds, beside the rollout-only limit and a
plain scan-of-scans PPO (the reference the speed target is stated against).

Usage: python benchmarks/throughput.py [--configs cartpole breakout_minatar cartpole_masked_gru]
       [--seeds 1 4 16 64]

Configs of other environment families (navix_empty_5x5, craftax_classic, ...) run too, without
the plain PPO column (it is written for gymnax environments).
"""

from __future__ import annotations

import argparse
import time

import jax
from common import (
    bar_panels,
    figures_note,
    fmt,
    hardware_label,
    markdown_table,
    median_times,
    write_results,
)
from plain_ppo import make_plain_ppo
from rollout_limit import make_rollout_limit

import purejaxppo  # noqa: F401  (sets the XLA CPU flag before JAX starts)
from purejaxppo.config import hparams_as_float32
from purejaxppo.loading import load_config
from purejaxppo.parallel import seed_keys
from purejaxppo.train import make_train

# Updates per timed call, by config and seed count: a reduced budget, long enough that the
# timing is steady (throughput does not depend on the budget once the program is compiled).
UPDATES = {
    "cartpole": {1: 100, 4: 50, 16: 20, 64: 8},
    "breakout_minatar": {1: 4, 4: 2, 16: 1, 64: 1},
    "cartpole_masked_gru": {1: 20, 4: 10, 16: 4, 64: 2},
    "navix_empty_5x5": {1: 60, 4: 30},  # 512 env steps per update and seed
    "xminigrid_empty_6x6": {1: 60, 4: 30},
    "jumanji_snake": {1: 20, 4: 10},  # 2,048
    "craftax_classic": {1: 6, 4: 3},  # 4,096
}
# Breakout at 16 and 64 seeds on CPU: one update is 131k / 524k env steps (minutes per case on
# 2 cores); pass --updates N to run them anyway. On a GPU they always run.
SKIP = {
    ("breakout_minatar", 16): "~1 min per call on the shared 2-core CPU; left out to fit the time",
    ("breakout_minatar", 64): "one update of 64 seeds takes minutes per call on 2 CPU cores",
}

# Plain PPO's program hangs here on jaxlib 0.10.2 CPU (the executor deadlock described in
# docs/benchmarks.md, "The 256-seed hang"): 0% CPU forever on its first call, reproduced twice.
# purejaxppo's own program of the same case runs; plain PPO is left out of the case on CPU.
PLAIN_HANGS_ON_CPU = {("breakout_minatar", 4)}


def compile_timed(fn, *args):
    """(compiled `jit(fn)` for `args`, seconds spent in lower + compile)."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start


def measure(name: str, num_seeds: int, repeats: int, updates: int | None, plain: bool) -> dict:
    """Compile and run times of training, the rollout-only limit and plain PPO for one case."""
    base = load_config(name)
    n_up = updates or UPDATES.get(name, {}).get(num_seeds, 10)
    config = base.replace(total_timesteps=n_up * base.batch_size)
    hp = hparams_as_float32(config.hparams)
    keys = seed_keys(0, num_seeds)
    train_fn, train_compile = compile_timed(
        jax.vmap(make_train(config), in_axes=(0, None)), keys, hp
    )
    limit_fn, limit_compile = compile_timed(
        jax.vmap(make_rollout_limit(config), in_axes=(0, None)), keys, hp
    )
    programs = {"train": train_fn, "limit": limit_fn}
    plain_compile = None
    if plain:
        programs["plain"], plain_compile = compile_timed(
            jax.vmap(make_plain_ppo(config), in_axes=(0, None)), keys, hp
        )
    for fn in programs.values():  # warm calls, untimed
        jax.block_until_ready(fn(keys, hp))
    times = median_times(
        {name: (lambda fn=fn: fn(keys, hp)) for name, fn in programs.items()}, repeats
    )
    steps = num_seeds * config.env_steps_per_run
    return {
        "config": name,
        "seeds": num_seeds,
        "updates": n_up,
        "steps": steps,
        "train_compile": train_compile,
        "limit_compile": limit_compile,
        "train_sps": steps / times["train"],
        "limit_sps": steps / times["limit"],
        "plain_sps": steps / times["plain"] if plain else None,
        "plain_compile": plain_compile,
        "fraction": times["limit"] / times["train"],
        "plain_fraction": times["limit"] / times["plain"] if plain else None,
    }


def table(rows: list[dict]) -> str:
    """The markdown table of `measure` results."""
    headers = [
        "config",
        "seeds",
        "env steps timed",
        "train steps/s",
        "compile train (s)",
        "rollout-limit steps/s",
        "compile limit (s)",
        "train / limit",
        "plain PPO steps/s",
        "compile plain (s)",
        "plain / limit",
    ]
    body = [
        [
            r["config"],
            r["seeds"],
            fmt(r["steps"]),
            fmt(r["train_sps"]),
            fmt(r["train_compile"], 2),
            fmt(r["limit_sps"]),
            fmt(r["limit_compile"], 2),
            f"{r['fraction']:.0%}",
            fmt(r["plain_sps"]),
            fmt(r["plain_compile"], 2),
            "-" if r["plain_fraction"] is None else f"{r['plain_fraction']:.0%}",
        ]
        for r in rows
    ]
    return markdown_table(headers, body)


def figure(rows: list[dict]):
    """Env steps/s of training, plain PPO and the limit per case, and the two fractions."""
    labels = [f"{r['config'].replace('_minatar', '')} x{r['seeds']}" for r in rows]
    speed = {
        "purejaxppo": [r["train_sps"] for r in rows],
        "plain PPO": [r["plain_sps"] for r in rows],
        "rollout-only limit": [r["limit_sps"] for r in rows],
    }
    share = {
        "purejaxppo / limit": [100 * r["fraction"] for r in rows],
        "plain PPO / limit": [
            None if r["plain_fraction"] is None else 100 * r["plain_fraction"] for r in rows
        ],
    }
    return bar_panels(
        [
            {"labels": labels, "series": speed, "ylabel": "env steps/s", "log": True},
            {"labels": labels, "series": share, "ylabel": "% of the rollout-only limit"},
        ],
        f"Training throughput ({hardware_label()})",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["cartpole", "breakout_minatar"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 4, 16, 64])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per case (median)")
    parser.add_argument("--updates", type=int, default=None, help="override updates per call")
    parser.add_argument("--name", default="throughput", help="results file name")
    args = parser.parse_args()
    rows, skipped = [], []
    on_cpu = jax.default_backend() == "cpu"
    for name in args.configs:
        for seeds in args.seeds:
            if on_cpu and (name, seeds) in SKIP and args.updates is None:
                skipped.append(f"{name} x {seeds} seeds skipped: {SKIP[name, seeds]}.")
                continue
            config = load_config(name)
            recurrent = config.recurrent != "none"
            family = ":" in config.env_id  # another family's adapter (docs/environments.md)
            hangs = on_cpu and (name, seeds) in PLAIN_HANGS_ON_CPU
            if recurrent or family:  # plain PPO is the feed-forward loop on gymnax envs only
                what = "a recurrent config" if recurrent else f"a {config.env_id} env"
                skipped.append(f"{name} x {seeds} seeds: no plain PPO ({what}).")
            elif hangs:
                skipped.append(
                    f"{name} x {seeds} seeds: plain PPO left out, its program hangs on this "
                    "jaxlib's CPU backend (docs/benchmarks.md, 'The 256-seed hang')."
                )
            plain = not (recurrent or family or hangs)
            rows.append(measure(name, seeds, args.repeats, args.updates, plain))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
            write(args, rows, skipped)  # after every case: an interrupted run leaves a file
    write(args, rows, skipped)  # again, for skipped cases after the last measured one
    print(table(rows))


def write(args: argparse.Namespace, rows: list[dict], skipped: list[str]) -> None:
    """Writes the results file for the cases measured so far."""
    notes = [
        f"{figures_note()} Env steps/s summed over all vmapped seeds; run time is the median "
        f"of {args.repeats} warm calls (after compile and one untimed call), training, the "
        "limit and plain PPO interleaved in the same process.",
        "Compile = `jax.jit(...).lower(...).compile()` wall time.",
        "Reduced budgets: each call runs the listed env steps (updates x num_envs x num_steps "
        "x seeds), not the config's total_timesteps; throughput does not depend on the budget "
        "once compiled.",
        "rollout-limit: the same envs, network forward pass and action sampling with no GAE or "
        "update (benchmarks/rollout_limit.py); train / limit = limit time / train time.",
        "plain PPO: a textbook scan-of-scans PPO (benchmarks/plain_ppo.py) with the same envs, "
        "widths, batch shape, epochs and minibatches and none of purejaxppo's extras "
        "(normalization, critic on pre-reset observations, target-KL mask, LR schedule, "
        "metrics); plain / limit is the share the speed target is compared with.",
        *skipped,
    ]
    title = f"Training throughput vs rollout-only limit ({hardware_label()})"
    write_results(args.name, title, table(rows), notes, figure(rows) if rows else None)


if __name__ == "__main__":
    main()
