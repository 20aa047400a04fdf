"""The `purejaxppo` command line: `purejaxppo train [--config NAME|PATH] [--seeds N] ...`."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def _phase(label: str, enabled: bool) -> Iterator[None]:
    """Shows `label` with a ticking elapsed-time counter on stderr while the block runs."""
    if not enabled:
        yield
        return
    if not sys.stderr.isatty():  # logs and pipes get one line per phase, not a ticking counter
        start = time.perf_counter()
        print(f"{label}...", file=sys.stderr, flush=True)
        yield
        print(f"{label} done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        return
    from tqdm import tqdm

    bar = tqdm(total=None, desc=label, bar_format="{desc}: {elapsed}", file=sys.stderr)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.5):
            bar.refresh()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.close()


def _default_out(config_name: str) -> Path:
    stem = Path(config_name).stem
    return Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def _check_out_dir(out: Path) -> None:
    from purejaxppo.config import ConfigError

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} already exists and is not empty; choose a new folder")


def _results_table(result) -> str:
    summary = result.summary()
    lines = ["", f"{result.config.env_id}: final return = {summary['final_return_definition']}"]
    lines.append(f"{'seed':>6}  {'final return':>12}")
    for seed, value in zip(summary["seeds"], summary["final_returns"], strict=True):
        lines.append(f"{seed:>6}  {_fmt(value):>12}")
    lines.append(
        f"{'mean':>6}  {_fmt(summary['final_return_mean']):>12}  "
        f"(std {_fmt(summary['final_return_std'])}, {result.num_seeds} seeds)"
    )
    lines.append(
        f"compile {result.compile_seconds:.1f} s, run {result.run_seconds:.1f} s, "
        f"{result.env_steps_per_second:,.0f} env steps/s"
    )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def cmd_train(args: argparse.Namespace) -> int:
    """Trains `--seeds` runs of a config and writes a run folder; returns the exit code."""
    from purejaxppo.io.files import (
        CONFIG_FILE, CURVE_FILE, METRICS_FILE, SUMMARY_FILE, atomic_write_text,
        metrics_csv_text, write_config_yaml, write_json,
    )
    from purejaxppo.io.plots import plot_learning_curves
    from purejaxppo.loading import config_to_dict, load_config
    from purejaxppo.parallel import compile_train, train_seeds

    config = load_config(args.config, args.set)
    if args.seeds < 1:
        from purejaxppo.config import ConfigError

        raise ConfigError(f"--seeds must be a positive integer, got {args.seeds}")
    out = Path(args.out) if args.out else _default_out(args.config)
    _check_out_dir(out)
    show = not args.quiet
    print(
        f"training {config.env_id}: {args.seeds} seed(s) x {config.env_steps_per_run:,} env steps "
        f"({config.num_updates} updates) -> {out}",
        file=sys.stderr,
    )
    with _phase("compiling", show):
        _, compile_seconds = compile_train(config, args.seeds)
    write_config_yaml(out / CONFIG_FILE, config_to_dict(config))
    with _phase("training", show):
        result = train_seeds(config, num_seeds=args.seeds, seed=args.seed)
    result.compile_seconds = compile_seconds
    atomic_write_text(out / METRICS_FILE, metrics_csv_text(result.metrics, result.seeds))
    write_json(out / SUMMARY_FILE, result.summary())
    plot_learning_curves([(config.env_id, result.metrics)], out / CURVE_FILE)
    print(_results_table(result))
    print(f"run folder: {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="purejaxppo", description="PPO in one compiled JAX program, many seeds at once."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one config over several seeds")
    train.add_argument("--config", default="cartpole", help="shipped config name or YAML path")
    train.add_argument("--seeds", type=int, default=1, help="number of seeds trained in parallel")
    train.add_argument("--seed", type=int, default=0, help="first seed; run i uses seed + i")
    train.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a config key (repeatable), e.g. --set lr=3e-4",
    )
    train.add_argument("--out", default=None, help="run folder (default runs/<config>-<time>)")
    train.add_argument("--quiet", action="store_true", help="no progress indication")
    train.set_defaults(func=cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `purejaxppo` script; returns the process exit code."""
    import purejaxppo  # noqa: F401 - applies the XLA flag before JAX starts
    from purejaxppo.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
