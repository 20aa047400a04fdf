"""Pieces shared by the subcommands: exit codes, status lines, run-folder checks."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

EXIT_USAGE = 2
EXIT_STALLED = 3  # the watchdog found a compiled call that made no progress
EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def phase(label: str, enabled: bool = True) -> Iterator[None]:
    """Shows `label` with a ticking elapsed time on a terminal (one line each way in a log)."""
    if not enabled:
        yield
        return
    start = time.perf_counter()
    if not sys.stderr.isatty():
        print(f"{label}...", file=sys.stderr, flush=True)
        yield
        print(f"{label}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        return
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.25):
            print(
                f"\r{label}: {time.perf_counter() - start:.1f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        print(f"\r{label}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


def default_out(config_name: str, kind: str = "runs") -> Path:
    """`runs/<config stem>-<YYYYmmdd-HHMMSS>`."""
    return Path(kind) / f"{Path(config_name).stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_new_out_dir(out: Path) -> None:
    """Refuses an --out that already holds files, so nothing written before is overwritten."""
    from purejaxppo.config import ConfigError

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} already exists and is not empty; choose a new folder")


def check_writable_dir(path: Path, flag: str, given: Path | None = None) -> None:
    """Creates the folder `path` (with its parents) if it is missing and writes and removes a
    probe file in it, so an output that cannot be written is refused before anything runs.

    Raises:
        ConfigError: one line naming `flag`, the path given (`given`, default `path`) and the
            reason.
    """
    from purejaxppo.config import ConfigError

    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".purejaxppo-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        where = (
            f" ({error.filename})" if error.filename and str(error.filename) != str(path) else ""
        )
        reason = error.strerror or str(error)
        folder = "this folder" if given is None else f"its folder {path}"
        raise ConfigError(
            f"{flag} {given or path}: cannot create or write {folder}{where}: {reason}"
        ) from None


def check_output_file(path: Path, flag: str) -> None:
    """Refuses an output file that is a folder or whose folder cannot be created or written."""
    from purejaxppo.config import ConfigError

    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; give a file name")
    check_writable_dir(path.parent, flag, given=path)


def with_imports(config, imports):
    """`config` with the `--import` modules added to its `imports` (kept in order, once each),
    so the run folder's config.yaml rebuilds the same environment and network later."""
    merged = tuple(dict.fromkeys([*config.imports, *imports]))
    return config if merged == config.imports else config.replace(imports=merged)


def seeds_word(n: int) -> str:
    """`"1 seed"`, `"4 seeds"`."""
    return f"{n} seed" if n == 1 else f"{n} seeds"


def watchdog_for(stall_seconds: float | None):
    """The `Watchdog` for `--stall-seconds` (both of its limits), or the default one."""
    from purejaxppo.config import ConfigError
    from purejaxppo.watchdog import Watchdog

    if stall_seconds is None:
        return Watchdog()
    if not stall_seconds > 0:
        raise ConfigError(f"--stall-seconds must be a positive number, got {stall_seconds}")
    return Watchdog(floor_seconds=stall_seconds, idle_seconds=stall_seconds)


def add_distributed_arguments(parser) -> None:
    """`--distributed` and its flags (train, sweep): see docs/distributed.md."""
    parser.add_argument("--distributed", action="store_true", help="one run over several "
                        "processes/hosts (jax.distributed); process 0 writes every file")  # fmt: skip
    parser.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                        help="process 0's address (default: from the cluster, e.g. SLURM)")  # fmt: skip
    parser.add_argument("--num-processes", type=int, default=None, metavar="N")
    parser.add_argument("--process-id", type=int, default=None, metavar="I")
    parser.add_argument("--coordinator-timeout", type=float, default=60.0, metavar="S",
                        help="seconds to wait for the coordinator (60)")  # fmt: skip
    parser.add_argument("--peer-timeout", type=float, default=20.0, metavar="S", help="a process "
                        "silent this long is lost: the others stop with exit code 4 (20)")  # fmt: skip


def start_distributed(args) -> None:
    """Joins the distributed run when `--distributed` is given; refuses its flags without it."""
    from purejaxppo.config import ConfigError

    if not getattr(args, "distributed", False):
        for flag in ("coordinator", "num_processes", "process_id"):
            if getattr(args, flag, None) is not None:
                name = "--" + flag.replace("_", "-")
                raise ConfigError(f"{name} applies to a distributed run only: add --distributed")
        return
    from purejaxppo import distributed

    distributed.initialize(
        args.coordinator,
        args.num_processes,
        args.process_id,
        args.coordinator_timeout,
        args.peer_timeout,
    )


def checked_together(check) -> None:
    """Runs `check()` (which raises `ConfigError` for bad input) in every process of a
    distributed run and raises in all of them if it failed in any (alone: just runs it)."""
    from purejaxppo import distributed
    from purejaxppo.config import ConfigError

    message = None
    try:
        check()
    except ConfigError as error:
        message = str(error)
    distributed.first_error(message)


def not_primary_line(kind: str, out) -> None:
    """The one line a process other than 0 prints about where the output goes."""
    import jax

    print(
        f"process {jax.process_index()} of {jax.process_count()}: process 0 writes the {kind} "
        f"{out}",
        file=sys.stderr,
        flush=True,
    )
