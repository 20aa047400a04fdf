"""`purejaxppo eval`: evaluate every seed of a run from its final (or a chosen) checkpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ORDER = 4
EVAL_FILE = "eval.json"


def add_parser(subparsers) -> None:
    """Registers `eval` and its options."""
    p = subparsers.add_parser("eval", help="evaluate a trained run's policies")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `train`, or a "
                   "sweep folder with --run")  # fmt: skip
    p.add_argument("--run", type=int, default=None, metavar="K", help="setting K of a sweep "
                   "folder written with --save-params")  # fmt: skip
    p.add_argument("--episodes", type=int, default=100, help="episodes per seed (100)")
    p.add_argument(
        "--deterministic", action="store_true", help="greedy actions instead of sampling"
    )
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of the evaluation (0)")
    p.add_argument(
        "--checkpoint", type=int, default=None, metavar="STEP", help="update of the checkpoint"
    )
    p.add_argument(
        "--max-steps", type=int, default=None, help="steps per episode (default: the env's limit)"
    )
    p.set_defaults(func=run)


def evaluate_run(
    run_dir: str | Path,
    episodes: int = 100,
    deterministic: bool = False,
    seed: int = 0,
    step: int | None = None,
    max_steps: int | None = None,
    run: int | None = None,
) -> dict[str, Any]:
    """Evaluates every seed of a run (for a sweep folder, of its setting `run`) in one jitted,
    vmapped program.

    Returns:
        A JSON-ready dict: `returns` `[seeds][episodes]`, per-seed `mean`/`std`, overall `mean`
        and `std` over all episodes, `std_across_seeds`, the checkpoint used and the settings.
    """
    import jax

    from purejaxppo.config import ConfigError
    from purejaxppo.evaluate import make_evaluate
    from purejaxppo.export import restore_run
    from purejaxppo.parallel import seed_keys

    if max_steps is not None and max_steps < 1:
        raise ConfigError(f"--max-steps must be a positive integer, got {max_steps}")
    config, checkpoint = restore_run(run_dir, step, run)
    evaluate = make_evaluate(config, episodes, deterministic, max_steps)
    num_seeds = int(checkpoint.meta["num_seeds"])
    state = checkpoint.state
    out = jax.jit(jax.vmap(evaluate))(state.params, state.obs_stats, seed_keys(seed, num_seeds))
    returns = np.asarray(out.returns, np.float64)  # [seeds, episodes]
    first = int(checkpoint.meta["seed"])
    return {
        "env_id": config.env_id,
        "checkpoint": checkpoint.step,
        "episodes": episodes,
        "deterministic": deterministic,
        "eval_seed": seed,
        "seeds": list(range(first, first + num_seeds)),
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "std_across_seeds": float(returns.mean(axis=1).std()),
        "per_seed_mean": returns.mean(axis=1).tolist(),
        "per_seed_std": returns.std(axis=1).tolist(),
        "unfinished_episodes": int(np.sum(~np.asarray(out.finished))),
        "mean_length": float(np.asarray(out.lengths).mean()),
        "returns": returns.tolist(),
    }


def run(args: argparse.Namespace) -> int:
    """Evaluates, prints a per-seed table and writes `eval.json` into the run folder."""
    from purejaxppo.export import member_dir
    from purejaxppo.io.files import write_json

    run_dir = member_dir(args.run_dir, args.run)
    report = evaluate_run(
        run_dir, args.episodes, args.deterministic, args.seed, args.checkpoint, args.max_steps
    )
    mode = "greedy" if args.deterministic else "sampled"
    print(
        f"{report['env_id']}: {args.episodes} {mode} episode(s) per seed, checkpoint at update "
        f"{report['checkpoint']}"
    )
    print(f"{'seed':>6}  {'mean return':>12}  {'std':>8}")
    for s, m, sd in zip(
        report["seeds"], report["per_seed_mean"], report["per_seed_std"], strict=True
    ):
        print(f"{s:>6}  {m:>12.1f}  {sd:>8.1f}")
    print(
        f"{'all':>6}  {report['mean']:>12.1f}  {report['std']:>8.1f}  "
        f"(std of seed means {report['std_across_seeds']:.1f})"
    )
    if report["unfinished_episodes"]:
        print(
            f"note: {report['unfinished_episodes']} episode(s) did not end within the scan; "
            "their returns are partial (raise --max-steps)",
            file=sys.stderr,
        )
    path = write_json(run_dir / EVAL_FILE, report)
    print(f"wrote {path}")
    return 0
