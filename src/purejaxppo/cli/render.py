"""`purejaxppo render`: an animated GIF of one episode of a trained run's policy."""

from __future__ import annotations

import argparse
from pathlib import Path

from purejaxppo.cli.common import check_output_file

ORDER = 5


def add_parser(subparsers) -> None:
    """Registers `render` and its options."""
    p = subparsers.add_parser("render", help="draw one episode of a trained policy as a GIF")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `train`, or a "
                   "sweep folder with --run")  # fmt: skip
    p.add_argument("--run", type=int, default=None, metavar="K", help="setting K of a sweep "
                   "folder written with --save-params")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="which of the run's seeds to draw (0)")
    p.add_argument("--out", default="episode.gif", help="GIF path (episode.gif)")
    p.add_argument("--sample", action="store_true", help="sample actions instead of greedy")
    p.add_argument("--episode-seed", type=int, default=0, help="PRNG seed of the episode (0)")
    p.add_argument(
        "--max-steps", type=int, default=None, help="frames at most (default: the env's limit)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Renders the episode and prints where it went. Returns the exit code."""
    from purejaxppo.config import ConfigError
    from purejaxppo.export import member_dir
    from purejaxppo.io.render import check_run_drawable, render_run

    if args.max_steps is not None and args.max_steps < 1:
        raise ConfigError(f"--max-steps must be a positive integer, got {args.max_steps}")
    run_dir = member_dir(args.run_dir, args.run)
    check_run_drawable(run_dir)  # e.g. pygame missing: refused before --out is created
    check_output_file(Path(args.out), "--out")
    path, length, episode_return = render_run(
        run_dir,
        args.out,
        seed=args.seed,
        deterministic=not args.sample,
        max_steps=args.max_steps,
        episode_seed=args.episode_seed,
    )
    print(f"wrote {path}: {length} steps, return {episode_return:.1f}")
    return 0
