"""Waiting for a compiled program without losing control of the process: signals, a watchdog.

A plain `np.asarray(result)` waits inside native code, where Python runs no signal handler: a
program that never finishes can then be ended only by SIGKILL. `wait_ready` waits in short
Python sleeps instead, so Ctrl-C and SIGTERM are handled at once, and a `Watchdog` can tell a
slow program from a stuck one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import jax

POLL_SECONDS = 0.02


class StalledError(RuntimeError):
    """A compiled call made no progress for longer than its watchdog allows."""


@dataclasses.dataclass
class Watchdog:
    """Decides when a compiled call that has not returned is stuck rather than slow.

    A call is reported when it has run for longer than `max(floor_seconds, factor x expected)`,
    where `expected` is the caller's estimate (from earlier calls, or the compile time for the
    first). On CPU a wedged program sits at 0% CPU, so a call is also reported once it has used
    less than `idle_cpu` of one core for `idle_seconds` on end. Both rules are generous: a busy,
    merely slow program never meets the second, and only a call 10x slower than expected with
    the floor passed meets the first.
    """

    floor_seconds: float = 600.0
    factor: float = 10.0
    idle_seconds: float = 120.0
    idle_cpu: float = 0.02
    cpu_rule: bool | None = None  # None: on when the default backend is the CPU

    def limit(self, expected: float | None) -> float:
        """Seconds a call may run before it is reported, given its `expected` duration."""
        return max(self.floor_seconds, self.factor * (expected or 0.0))

    def uses_cpu_rule(self) -> bool:
        """Whether the idle-CPU rule applies (a GPU program leaves the CPU idle while it runs)."""
        return jax.default_backend() == "cpu" if self.cpu_rule is None else self.cpu_rule


def wait_ready(
    tree: Any,
    watchdog: Watchdog | None = None,
    expected: float | None = None,
    what: str = "the compiled call",
) -> Any:
    """Returns `tree` once every array in it is computed, waiting in short Python sleeps.

    Raises:
        StalledError: when `watchdog` judges the call stuck; the message says for how long
            nothing happened, what is likely wrong and what to do.
    """
    start = time.monotonic()
    cpu_rule = watchdog is not None and watchdog.uses_cpu_rule()
    # With nothing to compare against on CPU, only the idle rule judges: a first call of a
    # large run may rightly take far longer than its compile.
    timed = watchdog is not None and (expected is not None or not cpu_rule)
    limit = watchdog.limit(expected) if timed else None
    idle_since, cpu_mark = start, time.process_time()
    pending = [leaf for leaf in jax.tree.leaves(tree) if hasattr(leaf, "is_ready")]
    while pending:
        if pending[-1].is_ready():
            pending.pop()
            continue
        time.sleep(POLL_SECONDS)
        if watchdog is None:
            continue
        now, cpu = time.monotonic(), time.process_time()
        if cpu - cpu_mark > watchdog.idle_cpu * (now - idle_since) + 0.05:
            idle_since, cpu_mark = now, cpu  # busy: restart the idle window
        elapsed = now - start
        if cpu_rule and now - idle_since > watchdog.idle_seconds:
            raise StalledError(
                f"no progress for {now - idle_since:.0f} s in {what}: the process is at ~0% CPU, "
                "so the XLA program is most likely deadlocked; run it again, and if it recurs "
                f"report it with your jax {jax.__version__} and the command"
            )
        if limit is not None and elapsed > limit:
            hint = f", expected about {expected:.0f} s" if expected else ""
            raise StalledError(
                f"no progress for {elapsed:.0f} s in {what}{hint}: the program is stuck or far "
                "slower than the runs before it (another process competing for the cores or "
                "memory?). Check the machine's load, then resume from the last checkpoint"
            )
    return tree


class _ExitGuard:
    """Defers an immediate exit while files are written, so none is left half-written."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None
        self.hint = ""

    def exit_now(self, code: int) -> None:
        name = {130: "SIGINT", 143: "SIGTERM"}.get(code, f"signal {code - 128}")
        print(
            f"\nsecond {name}: exiting now with code {code}{self.hint}",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        os._exit(code)  # the compiled program may still be running: do not wait for it


_GUARD = _ExitGuard()


@contextlib.contextmanager
def writing_files() -> Iterator[None]:
    """While active, an immediate exit asked for by a second signal waits until it ends."""
    _GUARD.depth += 1
    try:
        yield
    finally:
        _GUARD.depth -= 1
        if _GUARD.depth == 0 and _GUARD.pending is not None:
            _GUARD.exit_now(_GUARD.pending)


def set_exit_hint(hint: str) -> None:
    """Text appended to the immediate-exit and stall messages (what was kept, how to resume)."""
    _GUARD.hint = hint


def exit_hint() -> str:
    """The text set by `set_exit_hint` ("" if none)."""
    return _GUARD.hint


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[list[int]]:
    """While active, a first SIGINT/SIGTERM sets `stop` (the run ends after its current chunk
    and saves a checkpoint); a second one exits the process at once with 128 + its number
    (130 for SIGINT, 143 for SIGTERM), after any file being written is complete. Yields the
    list of signals received."""
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        if stop.is_set():
            if _GUARD.depth:
                _GUARD.pending = 128 + signum
            else:
                _GUARD.exit_now(128 + signum)
            return
        stop.set()
        name = signal.Signals(signum).name
        print(
            f"\n{name}: finishing the current chunk, then saving a checkpoint "
            "(press Ctrl-C again to exit at once)",
            file=sys.stderr,
            flush=True,
        )

    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
