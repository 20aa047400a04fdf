"""Sets the XLA CPU flag that avoids a jaxlib 0.10 deadlock, before JAX starts its CPU backend."""

from __future__ import annotations

import os
import sys
import warnings

SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
OPT_OUT_VARIABLE = "PUREJAXPPO_KEEP_XLA_FLAGS"


def _backends_started() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return False


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
        warnings.warn(
            "purejaxppo was imported after JAX had started its backends, so the XLA flag "
            f"{SCHEDULER_FLAG} could not be applied; large vmapped runs on CPU may hang. "
            "Import purejaxppo before running any JAX computation, or set XLA_FLAGS yourself.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    os.environ["XLA_FLAGS"] = f"{current} {SCHEDULER_FLAG}".strip()
    return True
