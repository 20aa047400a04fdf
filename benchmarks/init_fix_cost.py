"""What the hang fix costs: purejaxppo's orthogonal init against jax's, paired in fresh processes.

The fix (docs/benchmarks.md, "The 256-seed hang") draws the orthogonal initialisation one run
at a time under `vmap`. Variant `jax` puts `jax.nn.initializers.orthogonal` back; variant
`ours` is the package as shipped. Each case runs `train_seeds` on CartPole in a fresh
subprocess, in the order jax, ours, jax, ours, ... so drifts in machine load hit both alike.
Seed counts stay at or below 64, where jax's initializer does not hang.
Usage: python benchmarks/init_fix_cost.py [--seeds 1 16 64] [--pairs 2]
"""

from __future__ import annotations

import argparse
import json
import os

from common import (
    alternated,
    bar_panels,
    child_json,
    figures_note,
    fmt,
    hardware_label,
    markdown_table,
    write_results,
)

STEPS = 100_000  # env steps per seed


def child(variant: str, seeds: int) -> None:
    """Trains one case and prints a JSON line: compile s, run s, env steps/s."""
    import jax

    import purejaxppo.networks as networks
    from purejaxppo.loading import load_config
    from purejaxppo.parallel import train_seeds

    if variant == "jax":
        networks.orthogonal = jax.nn.initializers.orthogonal
    config = load_config("cartpole", [f"total_timesteps={STEPS}"])
    result = train_seeds(config, num_seeds=seeds)
    print(
        json.dumps(
            {
                "compile_seconds": result.compile_seconds,
                "run_seconds": result.run_seconds,
                "steps_per_second": result.env_steps_per_second,
            }
        )
    )


def measure(variant: str, seeds: int) -> dict:
    """One case in a fresh process, without the persistent compile cache."""
    env = {**os.environ, "PUREJAXPPO_COMPILE_CACHE": "0"}
    return child_json([__file__, "--child", variant, str(seeds)], env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 16, 64])
    parser.add_argument("--pairs", type=int, default=2, help="A B pairs per seed count")
    parser.add_argument("--name", default="init_fix_cost")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    import purejaxppo  # noqa: F401  (before hardware_label starts JAX: it applies the XLA flag)

    rows, ratios = [], []
    load = os.getloadavg()[0]
    for seeds in args.seeds:
        med = alternated(["jax", "ours"], args.pairs, lambda v, seeds=seeds: measure(v, seeds))
        ratio = med["ours"]["steps_per_second"] / med["jax"]["steps_per_second"]
        ratios.append(ratio)
        rows.append(
            [
                seeds,
                f"{med['jax']['steps_per_second']:,.0f}",
                f"{med['ours']['steps_per_second']:,.0f}",
                fmt(ratio, 3),
                fmt(med["jax"]["compile_seconds"]),
                fmt(med["ours"]["compile_seconds"]),
            ]
        )
    headers = ["seeds", "jax init env steps/s", "ours env steps/s", "ours / jax", "compile jax s"]
    body = markdown_table([*headers, "compile ours s"], rows)
    notes = [
        figures_note(),
        f"CartPole-v1, {STEPS:,} env steps per seed; medians of {args.pairs} fresh processes per "
        "variant, run in the order jax, ours, jax, ours.",
        f"Load average at the start: {load:.2f}.",
        "env steps/s covers the whole `train` program (initialisation included); compile is the "
        "whole program's.",
    ]
    figure = bar_panels(
        [
            {
                "labels": [str(s) for s in args.seeds],
                "series": {"ours / jax": ratios},
                "ylabel": "env steps/s ratio",
                "title": "orthogonal init one run at a time vs batched",
            }
        ],
        f"Cost of the hang fix ({hardware_label()})",
    )
    write_results(args.name, "Cost of the hang fix", body, notes, figure)
    print(body)


if __name__ == "__main__":
    main()
