"""`purejaxppo train`: train one config over several seeds and write a run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from purejaxppo.cli import train_logging
from purejaxppo.cli.common import check_new_out_dir, default_out, phase

ORDER = 0


def add_parser(subparsers) -> None:
    """Registers `train` and its options."""
    p = subparsers.add_parser("train", help="train one config over several seeds")
    p.add_argument("--config", default="cartpole", help="shipped config name or YAML path")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds trained in parallel")
    p.add_argument("--seed", type=int, default=0, help="first seed; run i uses seed + i")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable), e.g. --set lr=3e-4",
    )
    p.add_argument("--out", default=None, help="run folder (default runs/<config>-<time>)")
    p.add_argument(
        "--log-every",
        type=int,
        default=None,
        metavar="K",
        help="updates per jitted chunk between progress/log updates (default: about 25 chunks)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    train_logging.add_arguments(p)
    p.set_defaults(func=run)


def results_table(result) -> str:
    """A short plain-text table: final return per seed, mean and std, timings."""
    s = result.summary()
    fmt = lambda v: "n/a" if v is None else f"{v:.1f}"  # noqa: E731
    lines = [
        "",
        f"{result.config.env_id}: final return = {s['final_return_definition']}",
        f"{'seed':>6}  {'final return':>12}",
    ]
    lines += [
        f"{seed:>6}  {fmt(v):>12}" for seed, v in zip(s["seeds"], s["final_returns"], strict=True)
    ]
    lines.append(
        f"{'mean':>6}  {fmt(s['final_return_mean']):>12}  "
        f"(std {fmt(s['final_return_std'])}, {result.num_seeds} seeds)"
    )
    lines.append(
        f"compile {result.compile_seconds:.1f} s, run {result.run_seconds:.1f} s, "
        f"{result.env_steps_per_second:,.0f} env steps/s"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Validates everything, then trains and writes config.yaml, metrics.csv (streamed),
    summary.json and learning_curve.png into the run folder. Returns the exit code."""
    from purejaxppo.config import ConfigError
    from purejaxppo.driver import (
        chunk_lengths,
        compile_chunked,
        default_chunk_updates,
        train_chunked,
    )
    from purejaxppo.io.files import (
        CONFIG_FILE,
        CURVE_FILE,
        SUMMARY_FILE,
        write_config_yaml,
        write_json,
    )
    from purejaxppo.io.plots import plot_learning_curves
    from purejaxppo.io.progress import ProgressBar
    from purejaxppo.loading import config_to_dict, load_config
    from purejaxppo.train import make_train

    config = load_config(args.config, args.set)
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {args.seeds}")
    if args.log_every is not None and args.log_every < 1:
        raise ConfigError(f"--log-every must be a positive integer, got {args.log_every}")
    make_train(config)  # environment and option checks, before anything is written
    train_logging.check_arguments(args)
    out = Path(args.out) if args.out else default_out(args.config)
    check_new_out_dir(out)
    chunk = args.log_every or default_chunk_updates(config.num_updates)
    print(
        f"training {config.env_id}: {args.seeds} seed(s) x {config.env_steps_per_run:,} env "
        f"steps ({config.num_updates} updates, {chunk} per chunk) -> {out}",
        file=sys.stderr,
    )
    with phase("compiling", enabled=not args.quiet):
        *_, compile_seconds = compile_chunked(
            config, args.seeds, False, chunk_lengths(config.num_updates, 0, chunk)
        )
    write_config_yaml(out / CONFIG_FILE, config_to_dict(config))
    callbacks = [ProgressBar(enabled=not args.quiet)]
    callbacks += train_logging.make_callbacks(args, out, config)
    result = train_chunked(config, args.seeds, args.seed, chunk_updates=chunk, callbacks=callbacks)
    result.compile_seconds = compile_seconds
    write_json(out / SUMMARY_FILE, result.summary())
    plot_learning_curves([(config.env_id, result.metrics)], out / CURVE_FILE)
    print(results_table(result))
    print(f"run folder: {out}")
    return 0
