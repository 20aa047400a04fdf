"""Pieces shared by the subcommands: exit codes, status lines, run-folder checks."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

EXIT_USAGE = 2
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
