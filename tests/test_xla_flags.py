"""The jaxlib CPU deadlock workaround: flag applied, user flags kept, opt-out honoured, and 64
vmapped seeds train to completion under a timeout."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from purejaxppo import load_config, train_seeds
from purejaxppo._xla import SCHEDULER_FLAG

PROBE = "import os, purejaxppo; print(os.environ.get('XLA_FLAGS', ''))"


def _flags_seen(env_overrides: dict[str, str]) -> str:
    env = {
        k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "PUREJAXPPO_KEEP_XLA_FLAGS")
    }
    env.update(env_overrides)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_flag_is_applied_in_this_process():
    assert SCHEDULER_FLAG in os.environ.get("XLA_FLAGS", "")


def test_flag_keeps_user_flags_and_honours_opt_out():
    assert _flags_seen({}) == SCHEDULER_FLAG
    user = "--xla_force_host_platform_device_count=2"
    assert _flags_seen({"XLA_FLAGS": user}) == f"{user} {SCHEDULER_FLAG}"
    assert _flags_seen({"XLA_FLAGS": user, "PUREJAXPPO_KEEP_XLA_FLAGS": "1"}) == user


@pytest.mark.timeout(420)
def test_64_vmapped_seeds_finish():
    """jaxlib 0.10 on CPU hung (0% CPU) on programs this size without the flag."""
    config = load_config("cartpole", ["total_timesteps=40960"])
    result = train_seeds(config, num_seeds=64, seed=0)
    assert result.metrics["episode_return"].shape == (64, config.num_updates)
    assert np.isfinite(result.metrics["policy_loss"]).all()
