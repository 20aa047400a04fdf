"""The jaxlib CPU deadlock workaround: flag applied, user flags kept, opt-out honoured, the same
option on every compiled program whatever the import order (so no import-order warning), and 64
vmapped seeds train to completion under a timeout."""

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
print(json.dumps({{"warnings": [str(w.message) for w in caught], "flags": os.environ["XLA_FLAGS"]}}))
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
def test_no_import_order_warning_whatever_came_first(before, tmp_path):
    """XLA reads XLA_FLAGS once, when its CPU client starts (a computation, jax.devices(), or
    gymnax's import-time arrays). Imported after jax alone, purejaxppo's flag takes effect;
    imported later it cannot, but no warning is due: every program purejaxppo compiles gets
    the same option through `compiler_options()` (tested below)."""
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
    assert not [w for w in seen["warnings"] if "XLA" in w], seen
    if before == "import jax":  # importing jax starts no backend: the flag takes effect
        assert read_by_xla and SCHEDULER_FLAG in seen["flags"].split()
    else:  # the backend had started: XLA never saw the flags set after that
        assert not read_by_xla


def test_every_program_purejaxppo_compiles_gets_the_scheduler_option(monkeypatch, tiny_config):
    """`parallel` and `driver` compile with `compiler_options()`, so the option holds even when
    XLA_FLAGS came too late; PUREJAXPPO_KEEP_XLA_FLAGS turns it off."""
    import jax

    from purejaxppo._xla import compiler_options
    from purejaxppo.driver import compile_chunked
    from purejaxppo.parallel import compile_train

    seen = []
    real = jax.stages.Lowered.compile

    def recording(self, compiler_options=None):
        seen.append(dict(compiler_options or {}))
        return real(self, compiler_options)

    monkeypatch.setattr(jax.stages.Lowered, "compile", recording)
    config = tiny_config.replace(num_envs=2)  # a shape no other test compiles: no cache hit
    compile_train(config, 3)
    compile_chunked(config, 3, False, (1,))
    wanted = {"xla_cpu_enable_concurrency_optimized_scheduler": False}
    assert len(seen) == 3 and all(options == wanted for options in seen), seen
    monkeypatch.setenv(OPT_OUT_VARIABLE, "1")
    assert compiler_options() == {}


@pytest.mark.timeout(420)
def test_64_vmapped_seeds_finish():
    """jaxlib 0.10 on CPU hung (0% CPU) on programs this size without the flag."""
    config = load_config("cartpole", ["total_timesteps=40960"])
    result = train_seeds(config, num_seeds=64, seed=0)
    assert result.metrics["episode_return"].shape == (64, config.num_updates)
    assert np.isfinite(result.metrics["policy_loss"]).all()
