"""Sets the XLA CPU flag that avoids a jaxlib 0.10 deadlock, before JAX starts its CPU backend."""

from __future__ import annotations

import os
import sys

SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
OPT_OUT_VARIABLE = "PUREJAXPPO_KEEP_XLA_FLAGS"


def _backends_started() -> bool:
    """Whether JAX has already created its backends (XLA reads XLA_FLAGS once, when it creates
    the CPU client: a later change is ignored). Importing jax alone creates none; a computation
    or `jax.devices()` does, and so does importing gymnax, whose modules build arrays at import.
    """
    if "jax" not in sys.modules:
        return False
    # Private API: `backends_are_initialized()` (jax 0.6 to 0.10 at least), else the cache
    # `_backends` it reads. If neither exists we cannot tell, and we apply the flag without a
    # warning rather than warn when nothing is wrong.
    try:
        from jax._src import xla_bridge
    except ImportError:
        return False
    check = getattr(xla_bridge, "backends_are_initialized", None)
    if callable(check):
        try:
            return bool(check())
        except Exception:
            return False
    return bool(getattr(xla_bridge, "_backends", None))


def compiler_options() -> dict[str, bool]:
    """XLA options for `Lowered.compile`: on the CPU backend, the scheduler option of
    `SCHEDULER_FLAG` (so it holds even when XLA_FLAGS was read before purejaxppo's import);
    none on other backends or with PUREJAXPPO_KEEP_XLA_FLAGS set."""
    import jax

    if os.environ.get(OPT_OUT_VARIABLE, "") not in ("", "0") or jax.default_backend() != "cpu":
        return {}
    return {"xla_cpu_enable_concurrency_optimized_scheduler": False}


def apply_cpu_scheduler_fix() -> bool:
    """Adds `SCHEDULER_FLAG` to XLA_FLAGS, keeping the user's flags.

    jaxlib 0.10.x on CPU can hang forever (0% CPU) on large vmapped training programs; turning off
    the concurrency-optimized scheduler avoids it at no measured cost. Set PUREJAXPPO_KEEP_XLA_FLAGS=1
    to leave XLA_FLAGS untouched.

    Returns:
        True if the flag is in effect (added now or already set by the user), False otherwise.
    """
    current = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_enable_concurrency_optimized_scheduler" in current:
        return SCHEDULER_FLAG in current
    if os.environ.get(OPT_OUT_VARIABLE, "") not in ("", "0"):
        return False
    if _backends_started():
        # Too late for XLA_FLAGS (e.g. gymnax was imported first, as an environment module
        # must): not worth a warning, because `compiler_options()` gives the same option to
        # every program purejaxppo compiles, whatever the import order.
        return False
    os.environ["XLA_FLAGS"] = f"{current} {SCHEDULER_FLAG}".strip()
    return True
