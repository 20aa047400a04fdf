"""The jaxlib CPU deadlock workaround: flag applied, user flags kept, opt-out honoured, a warning
exactly when the flag came too late, and 64 vmapped seeds train to completion under a timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from purejaxppo import load_config, train_seeds
from purejaxppo._xla import OPT_OUT_VARIABLE, SCHEDULER_FLAG

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


# Sets XLA_FLAGS (a dump folder, which shows whether XLA read them) just before importing
# purejaxppo, which adds its flag to the same string; then compiles something.
ORDER_PROBE = """
import json, os, sys, warnings
{before}
os.environ["XLA_FLAGS"] = "--xla_dump_to=" + sys.argv[1]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import purejaxppo
import jax
jax.jit(lambda x: x * 3 + 1)(jax.numpy.ones(3)).block_until_ready()
late = [str(w.message) for w in caught if "could not be applied" in str(w.message)]
print(json.dumps({{"warnings": late, "flags": os.environ["XLA_FLAGS"]}}))
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "before",
    [
        "import jax",
        "import jax; jax.numpy.zeros(1).block_until_ready()",
        "import jax; jax.devices()",
        "import jax, gymnax",
    ],
)
def test_import_order_warning_iff_the_flag_came_too_late(before, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != OPT_OUT_VARIABLE}
    dump = tmp_path / "dump"
    done = subprocess.run(
        [sys.executable, "-c", ORDER_PROBE.format(before=before), str(dump)],
        capture_output=True,
        text=True,
        env=env,
        timeout=110,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    read_by_xla = dump.is_dir() and any(dump.iterdir())
    assert bool(seen["warnings"]) == (not read_by_xla), seen
    if before == "import jax":  # importing jax starts no backend: the flag takes effect
        assert read_by_xla and not seen["warnings"]
        assert SCHEDULER_FLAG in seen["flags"].split()
    elif "gymnax" in before:  # gymnax 1.x builds arrays at import, which starts the backend
        assert all("importing gymnax" in message for message in seen["warnings"])
    else:
        assert seen["warnings"] and not read_by_xla


@pytest.mark.timeout(420)
def test_64_vmapped_seeds_finish():
    """jaxlib 0.10 on CPU hung (0% CPU) on programs this size without the flag."""
    config = load_config("cartpole", ["total_timesteps=40960"])
    result = train_seeds(config, num_seeds=64, seed=0)
    assert result.metrics["episode_return"].shape == (64, config.num_updates)
    assert np.isfinite(result.metrics["policy_loss"]).all()
