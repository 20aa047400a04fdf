"""The watch on the other processes of a distributed run: heartbeats in JAX's key-value store,
and one line naming a lost process instead of a collective blocked forever or a traceback."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

import jax

EXIT_PEER_LOST = 4  # another process of a distributed run stopped responding
HEARTBEAT_SECONDS = 1.0  # how often each process tells the others it is alive
_KEY = "purejaxppo/alive/{}"


def _client() -> Any:
    from jax._src import distributed as jax_distributed

    return jax_distributed.global_state.client


def _try_get(client: Any, key: str) -> str | None:
    """The key's value, or None while nobody has set it yet (other failures propagate)."""
    try:
        return client.key_value_try_get(key)
    except Exception as error:  # noqa: BLE001 - JAX raises a generic error for a missing key
        if "NOT_FOUND" in str(error) or "not found" in str(error).lower():
            return None
        raise


_WATCH: dict[str, float] = {}  # "lost_after_s" once `watch_peers` runs


def exit_after_peer_failure(error: BaseException) -> None:
    """Called with an exception from the main thread of a distributed run: a collective that
    failed because another process died. Gives the peer watch time to name the lost process
    (it ends this process), else ends it here with one line and `EXIT_PEER_LOST`."""
    lost_after = _WATCH.get("lost_after_s")
    if lost_after is None:
        return
    time.sleep(lost_after + 3 * HEARTBEAT_SECONDS)
    first = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
    print(
        f"error: a collective of this distributed run failed ({first})", file=sys.stderr, flush=True
    )
    os._exit(EXIT_PEER_LOST)


def watch_peers(lost_after_s: float) -> threading.Thread:
    """Starts a daemon thread that posts this process's heartbeat in JAX's key-value store every
    `HEARTBEAT_SECONDS` and reads the others'. When one has been silent for `lost_after_s`, or
    the coordinator (process 0) cannot be reached, it prints one line naming that process and
    ends this process with `EXIT_PEER_LOST`, instead of leaving it blocked in a collective."""
    me, count, client = jax.process_index(), jax.process_count(), _client()
    _WATCH["lost_after_s"] = lost_after_s

    def lost(who: str) -> None:
        print(
            f"error: {who} of this distributed run stopped responding (silent for "
            f"{lost_after_s:g} s); process {me} stops too",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        os._exit(EXIT_PEER_LOST)  # a collective in flight would keep a normal exit waiting

    def loop() -> None:
        beat, seen = 0, {p: (None, time.monotonic()) for p in range(count) if p != me}
        while True:
            beat += 1
            try:
                client.key_value_set(_KEY.format(me), str(beat), allow_overwrite=True)
                values = {p: _try_get(client, _KEY.format(p)) for p in seen}
            except Exception:  # noqa: BLE001 - any failure to reach the store
                if me != 0:
                    lost("process 0 (the coordinator)")
                values = {}
            now = time.monotonic()
            for p, value in values.items():
                if value != seen[p][0]:
                    seen[p] = (value, now)
            silent = [p for p, (_, last) in seen.items() if now - last > lost_after_s]
            if silent:
                lost(f"process {silent[0]}")
            time.sleep(HEARTBEAT_SECONDS)

    thread = threading.Thread(target=loop, name="purejaxppo-peers", daemon=True)
    thread.start()
    return thread
