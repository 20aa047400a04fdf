"""Many processes, one program: `jax.distributed` set up with clear errors, agreement checks
between processes, and a watch on the other processes so that a lost one stops the rest.

The training itself needs nothing here: once JAX knows every process, `jax.devices()` lists
every process's devices, and the run axis is sharded over all of them by the same code that
shards it over one machine's devices (`run_axis.shardings`). Process 0 writes every file; the
metrics reach it (and every process) with `run_axis.to_host`.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from typing import Any

import jax
import numpy as np

from purejaxppo.errors import ConfigError


def parse_address(address: str) -> tuple[str, int]:
    """`"host:port"` -> (host, port); `ConfigError` when it is not of that form."""
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--coordinator {address!r} must look like HOST:PORT, e.g. 10.0.0.1:1234")
    return host, int(port)


def _wait_reachable(host: str, port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.25)


def _check_bindable(host: str, port: int) -> None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("0.0.0.0", port))
    except OSError as error:
        raise ConfigError(
            f"process 0 cannot listen on port {port} for --coordinator {host}:{port} "
            f"({error.strerror}); choose a free port"
        ) from None


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    timeout_s: float = 60.0,
    lost_after_s: float = 20.0,
) -> None:
    """Joins this process to a distributed run (`jax.distributed.initialize`), once.

    With `coordinator`, `num_processes` and `process_id`, those; with none of them, what JAX
    detects from the cluster (SLURM, Open MPI, TPU pods). On CPU the processes talk through
    gloo. Then a thread watches the other processes (see `watch_peers`).

    Args:
        coordinator: "host:port" of process 0, which listens there.
        timeout_s: how long a process waits for the coordinator before giving up.
        lost_after_s: a process silent this long counts as lost (JAX's own heartbeat timeout is
            set a little longer, so this watch reports first, in one line).

    Raises:
        ConfigError: incomplete or invalid flags, a coordinator not reachable within
            `timeout_s` (named), a port process 0 cannot listen on, or no cluster detected.
    """
    if jax.distributed.is_initialized():
        return
    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise ConfigError(
            "--distributed needs all of --coordinator HOST:PORT, --num-processes N and "
            "--process-id I, or none of them (then the cluster environment supplies them)"
        )
    previous = jax.config.jax_cpu_collectives_implementation
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    timeouts = {
        "initialization_timeout": max(1, int(timeout_s)),
        "heartbeat_timeout_seconds": int(lost_after_s) + 10,
        "shutdown_timeout_seconds": 10,
    }
    if not any(given):
        try:
            jax.distributed.initialize(**timeouts)
        except (ValueError, RuntimeError) as error:
            jax.config.update("jax_cpu_collectives_implementation", previous)
            raise ConfigError(
                "--distributed without --coordinator: no cluster environment was detected "
                f"({str(error).splitlines()[0][:120]}); give --coordinator HOST:PORT "
                "--num-processes N --process-id I"
            ) from None
    else:
        if num_processes < 1 or not 0 <= process_id < num_processes:
            raise ConfigError(
                f"--process-id {process_id} must lie in 0..{num_processes - 1} "
                f"(--num-processes {num_processes})"
            )
        host, port = parse_address(coordinator)
        # JAX aborts the whole process (no Python exception) when the coordinator cannot be
        # reached, so this checks first and says what is wrong in one line.
        if process_id == 0:
            _check_bindable(host, port)
        elif not _wait_reachable(host, port, timeout_s):
            raise ConfigError(
                f"process {process_id} of {num_processes} could not reach the coordinator at "
                f"{coordinator} within {timeout_s:g} s; start process 0 there, or fix --coordinator"
            )
        jax.distributed.initialize(coordinator, num_processes, process_id, **timeouts)
    if jax.process_count() > 1:
        from purejaxppo.distributed_watch import watch_peers

        watch_peers(lost_after_s)


def is_primary() -> bool:
    """True in process 0 (and in a run of one process): the one that writes files."""
    return jax.process_index() == 0


def agree(value: Any, what: str) -> None:
    """Checks that every process has the same `value` (compared by the SHA-256 of its repr).

    Raises:
        ConfigError: in every process, naming the first process whose `what` differs from
            process 0's.
    """
    if jax.process_count() < 2:
        return
    from jax.experimental import multihost_utils

    digest = np.frombuffer(hashlib.sha256(repr(value).encode()).digest(), np.uint8)
    everyone = np.asarray(multihost_utils.process_allgather(digest))  # [processes, 32]
    differs = [i for i in range(everyone.shape[0]) if not np.array_equal(everyone[i], everyone[0])]
    if differs:
        raise ConfigError(
            f"process {differs[0]}'s {what} differs from process 0's: every process of a "
            "distributed run must be given the same command (only --process-id may differ)"
        )


def first_error(message: str | None) -> None:
    """A collective check: every process passes the one-line error it found (or None); if any
    process found one, every process raises `ConfigError` with the first (process order), so no
    process goes on alone into a collective the others never reach."""
    if jax.process_count() < 2:
        if message is not None:
            raise ConfigError(message)
        return
    from jax.experimental import multihost_utils

    buffer = np.zeros(1024, np.uint8)
    text = (message or "").encode()[: buffer.size - 1]
    buffer[: len(text)] = np.frombuffer(text, np.uint8)
    buffer[-1] = message is not None
    everyone = np.asarray(multihost_utils.process_allgather(buffer))  # [processes, 1024]
    for process, row in enumerate(everyone):
        if row[-1]:
            found = bytes(row[:-1]).rstrip(b"\0").decode(errors="replace")
            mine = process == jax.process_index() or found == message
            raise ConfigError(found if mine else f"process {process}: {found}")


def any_process(flag: bool) -> bool:
    """True in every process when `flag` is True in any (a collective: all must call it). A
    distributed run decides together to stop, so that no process runs a chunk alone."""
    if jax.process_count() < 2:
        return bool(flag)
    from jax.experimental import multihost_utils

    flags = multihost_utils.process_allgather(np.asarray([bool(flag)], np.uint8))
    return bool(np.asarray(flags).any())


def stop_requested(stop: threading.Event | None) -> bool:
    """Whether `stop` (set by a signal handler) is set here or, in a distributed run, in any
    process: every process then ends after the same chunk."""
    return any_process(stop is not None and stop.is_set())
