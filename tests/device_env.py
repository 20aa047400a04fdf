"""The environment of a subprocess that sees `count` virtual CPU devices."""

from __future__ import annotations

import os


def forced_devices_env(count: int) -> dict[str, str]:
    """`os.environ` plus `--xla_force_host_platform_device_count=count` in XLA_FLAGS, the CPU
    platform only, and purejaxppo's own XLA flag left on."""
    flags = f"--xla_force_host_platform_device_count={count}"
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()}
    env.pop("PUREJAXPPO_KEEP_XLA_FLAGS", None)
    env["JAX_PLATFORMS"] = "cpu"
    return env
