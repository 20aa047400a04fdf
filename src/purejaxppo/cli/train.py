"""`purejaxppo train`: train one config over several seeds into a run folder, or resume one."""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from pathlib import Path

from purejaxppo.cli import train_logging
from purejaxppo.cli.common import (
    EXIT_INTERRUPTED,
    add_distributed_arguments,
    check_new_out_dir,
    check_writable_dir,
    checked_together,
    default_out,
    not_primary_line,
    phase,
    seeds_word,
    watchdog_for,
    with_imports,
)

ORDER = 0


def add_parser(subparsers) -> None:
    """Registers `train` and its options."""
    p = subparsers.add_parser("train", help="train one config over several seeds, or resume")
    p.add_argument("--config", default=None, help="shipped config name or YAML path (cartpole)")
    p.add_argument("--seeds", type=int, default=None, help="seeds trained in parallel (1)")
    p.add_argument("--seed", type=int, default=None, help="first seed; run i uses seed + i (0)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a "
                   "config key (repeatable), e.g. --set lr=3e-4")  # fmt: skip
    p.add_argument("--out", default=None, help="run folder (default runs/<config>-<time>)")
    p.add_argument("--log-every", type=int, default=None, metavar="K", help="updates per jitted "
                   "chunk between progress/log updates (default: about 25 chunks)")  # fmt: skip
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="N", help="save a "
                   "checkpoint every N updates (default: about 5 per run), and always at the end "
                   "and when interrupted")  # fmt: skip
    p.add_argument("--keep", type=int, default=3, metavar="K", help="checkpoints kept (3)")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue the run in "
                   "RUN_DIR from its newest valid checkpoint")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--stall-seconds", type=float, default=None, metavar="S", help="report a "
                   "chunk as stuck and exit with code 3 after S s at ~0%% CPU (CPU) or 10x its "
                   "expected time and at least S s (default 120 and 600)")  # fmt: skip
    train_logging.add_arguments(p)
    add_distributed_arguments(p)
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
        f"(std {fmt(s['final_return_std'])}, {seeds_word(result.num_seeds)})"
    )
    if s["final_return_note"]:
        lines.append(s["final_return_note"])
    lines.append(
        f"compile {result.compile_seconds:.1f} s, run {result.run_seconds:.1f} s, "
        f"{result.env_steps_per_second:,.0f} env steps/s"
    )
    return "\n".join(lines)


def _new_run(args: argparse.Namespace):
    from purejaxppo.loading import load_config

    config = with_imports(load_config(args.config or "cartpole", args.set), args.imports)
    out = Path(args.out) if args.out else default_out(args.config or "cartpole")
    seeds = 1 if args.seeds is None else args.seeds
    return config, out, (0 if args.seed is None else args.seed), seeds


def _resume_run(args: argparse.Namespace):
    """Checks the options against the saved run, restores its newest valid checkpoint, and
    returns (config, run folder, first seed, seeds, checkpoint, checkpoint store)."""
    from purejaxppo.config import ConfigError
    from purejaxppo.export import run_config
    from purejaxppo.io.checkpoint import CHECKPOINT_DIR, CheckpointStore

    out = Path(args.resume)
    config = run_config(out)
    if args.out is not None and Path(args.out).resolve() != out.resolve():
        raise ConfigError("--out cannot be combined with --resume: the run continues in RUN_DIR")
    store = CheckpointStore(out / CHECKPOINT_DIR, keep=args.keep, create=False)
    try:
        return _check_and_restore(args, out, config, store)
    except BaseException:
        store.close()
        raise


def _check_and_restore(args: argparse.Namespace, out: Path, config, store):
    from purejaxppo.config import ConfigError, PPOConfig
    from purejaxppo.loading import config_from_dict, config_to_dict, load_config

    meta = store.read_meta()
    asked = load_config(args.config or out / "config.yaml", args.set)
    saved_dict = config_to_dict(config)
    for source, other, fix in (
        ("--config/--set", asked, "resume it without --config/--set"),
        ("its checkpoint", meta["config"], "config.yaml was edited: restore it"),
    ):
        given = config_to_dict(other if isinstance(other, PPOConfig) else config_from_dict(other))
        diff = [k for k in saved_dict if k != "reference_return" and saved_dict[k] != given[k]]
        if diff:
            k = diff[0]
            raise ConfigError(
                f"{source} gives {k}={given[k]!r} but the run in {out} was trained with "
                f"{k}={saved_dict[k]!r}; {fix}"
            )
    for flag, value, saved in (
        ("--seeds", args.seeds, meta["num_seeds"]),
        ("--seed", args.seed, meta["seed"]),
    ):
        if value is not None and value != saved:
            raise ConfigError(
                f"{flag} {value} does not match the run in {out} ({flag} {saved}); drop {flag}"
            )
    checkpoint = store.restore(config, int(meta["num_seeds"]))
    store.discard_after(checkpoint.step)
    return config, out, int(meta["seed"]), int(meta["num_seeds"]), checkpoint, store


def run(args: argparse.Namespace) -> int:
    """Validates everything, then trains and writes config.yaml, metrics.csv (streamed),
    checkpoints/, summary.json and learning_curve.png into the run folder. Returns the exit
    code: 0, or 128 + the signal's number (130 SIGINT, 143 SIGTERM) when a signal stopped the
    run (after saving a checkpoint)."""
    import jax
    import numpy as np

    from purejaxppo import distributed
    from purejaxppo.config import ConfigError
    from purejaxppo.driver import (
        checkpoint_chunking,
        chunk_lengths,
        compile_chunked,
        stop_on_signals,
        train_runs_chunked,
    )
    from purejaxppo.io.checkpoint import CHECKPOINT_DIR, Checkpointer, CheckpointStore
    from purejaxppo.io.files import (
        CONFIG_FILE,
        CURVE_FILE,
        METRICS_FILE,
        SUMMARY_FILE,
        read_metrics_csv,
        truncate_metrics,
        write_config_yaml,
        write_json,
    )
    from purejaxppo.io.plots import plot_learning_curves
    from purejaxppo.io.progress import ProgressBar
    from purejaxppo.loading import config_to_dict
    from purejaxppo.train import make_train
    from purejaxppo.watchdog import set_exit_hint, writing_files

    checkpoint = None
    if args.resume:
        config, out, seed, num_seeds, checkpoint, store = _resume_run(args)
    else:
        config, out, seed, num_seeds = _new_run(args)
    if num_seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {num_seeds}")
    chunk, every = checkpoint_chunking(config.num_updates, args.log_every, args.checkpoint_every)
    if checkpoint is not None and args.log_every is None and args.checkpoint_every is None:
        chunk = checkpoint.meta.get("chunk_updates", chunk)  # as before: same programs, same
        every = checkpoint.meta.get("checkpoint_every", every)  # metrics.csv row order
    make_train(config)  # environment and option checks, before anything is written
    train_logging.check_arguments(args)
    start = 0 if checkpoint is None else checkpoint.step
    if start == config.num_updates:
        print(f"{out} is already complete ({start} updates); nothing to resume", file=sys.stderr)
        store.close()
        return 0
    devices = tuple(jax.devices()) if jax.process_count() > 1 else ()
    primary = distributed.is_primary()

    def check() -> None:
        same = (config_to_dict(config), seed, num_seeds, chunk, every, start, str(out))
        distributed.agree(same, "config, seeds, run folder or checkpoint")
        if devices and num_seeds % len(devices):
            raise ConfigError(
                f"--seeds {num_seeds} does not split evenly over the {len(devices)} devices of "
                f"this distributed run; give a multiple of {len(devices)}"
            )
        if checkpoint is None and args.keep < 1:
            raise ConfigError(f"--keep must be a positive integer, got {args.keep}")
        if primary:
            if checkpoint is None:
                check_new_out_dir(out)
            check_writable_dir(out, "--out" if checkpoint is None else "--resume")

    checked_together(check)
    if not primary:
        not_primary_line("run folder", out)
    what = f"resuming {out} at update {start}" if checkpoint else f"-> {out}"
    print_if = print if primary else (lambda *a, **k: None)
    print_if(
        f"training {config.env_id}: {seeds_word(num_seeds)} x {config.env_steps_per_run:,} env "
        f"steps ({config.num_updates} updates, {chunk} per chunk) {what}",
        file=sys.stderr,
    )
    stop = threading.Event()
    set_exit_hint(
        f"; {out} keeps its last complete checkpoint and metrics.csv; to resume: "
        f"purejaxppo train --resume {shlex.quote(str(out))}"
    )
    with stop_on_signals(stop) as received:
        with phase("compiling", enabled=not args.quiet and primary):
            lengths = chunk_lengths(config.num_updates, start, chunk)
            *_, compile_seconds = compile_chunked(config, num_seeds, False, lengths, devices)
        if checkpoint is None:
            if primary:
                write_config_yaml(out / CONFIG_FILE, config_to_dict(config))
            store = CheckpointStore(out / CHECKPOINT_DIR, keep=args.keep)
        elif primary:
            truncate_metrics(out, start)
        meta = {"seed": seed, "num_seeds": num_seeds, "config": config_to_dict(config)}
        meta.update(chunk_updates=chunk, checkpoint_every=every)
        callbacks = []
        if primary:  # process 0 alone shows progress and writes the metrics
            callbacks.append(ProgressBar(enabled=not args.quiet))
            callbacks += train_logging.make_callbacks(args, out, config)
        callbacks.append(Checkpointer(store, every, config.num_updates, meta))  # every process
        result = train_runs_chunked(
            config,
            np.arange(seed, seed + num_seeds),
            chunk_updates=chunk,
            callbacks=callbacks,
            initial_state=None if checkpoint is None else checkpoint.state,
            stop=stop,
            watchdog=watchdog_for(args.stall_seconds),
            devices=devices,
        )
        with writing_files():
            saved = store.save(result.runner_state, meta)
            store.close()
    result.compile_seconds = compile_seconds
    if not primary:
        return (128 + received[0] if received else EXIT_INTERRUPTED) if not result.completed else 0
    if not result.completed:
        print(f"stopped at update {saved.name}/{config.num_updates}; checkpoint {saved}")
        print(f"to resume: purejaxppo train --resume {shlex.quote(str(out))}")
        return 128 + received[0] if received else EXIT_INTERRUPTED
    if checkpoint is not None and (out / METRICS_FILE).is_file():  # summary of the whole run
        whole = read_metrics_csv(out / METRICS_FILE)
        result.metrics = {k: v for k, v in whole.items() if k not in ("seed", "update")}
    write_json(out / SUMMARY_FILE, result.summary())
    plot_learning_curves(
        [(config.env_id, result.metrics)],
        out / CURVE_FILE,
        reference_return=config.reference_return,
    )
    print(results_table(result))
    print(f"run folder: {out}")
    return 128 + received[0] if received else 0  # 130 for SIGINT, 143 for SIGTERM
