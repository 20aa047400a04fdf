"""How far a run inside a batch drifts from the same run alone (same key): first differing update
and final returns. Prints a small table; the point is that the bits differ, not by how much.

Usage: python benchmarks/batch_vs_alone.py [--config cartpole] [--seeds 4] [--steps 1e5]
"""

from __future__ import annotations

import argparse

import numpy as np

import purejaxppo as pj


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="cartpole")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=float, default=1e5)
    args = parser.parse_args()
    config = pj.load_config(args.config, {"total_timesteps": int(args.steps)})
    batch = pj.train_seeds(config, num_seeds=args.seeds, seed=0)
    print(f"{args.config}, {int(args.steps):,} steps, batch of {args.seeds} vs alone (same key)")
    print("seed  first differing update (policy_loss)  final in batch  final alone")
    for i in range(args.seeds):
        alone = pj.train_seeds(config, num_seeds=1, seed=i)
        a, b = alone.metrics["policy_loss"][0], batch.metrics["policy_loss"][i]
        differs = np.nonzero(a != b)[0]
        first = str(differs[0] + 1) if differs.size else "none"
        print(
            f"{i:>4}  {first:>36}  {batch.final_returns[i]:>14.1f}  {alone.final_returns[0]:>11.1f}"
        )


if __name__ == "__main__":
    main()
