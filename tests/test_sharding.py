"""Sharding the run axis over 4 (virtual CPU) devices gives the single-device numbers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from device_env import forced_devices_env
from purejaxppo.sweep import sweep

LRS = [1e-3, 2.5e-4, 1e-4]  # as in tests/test_sweep.py, so this process reuses its program
SEED = 5

SCRIPT = textwrap.dedent(
    """
    import sys

    import jax
    import numpy as np
    from jax.sharding import PartitionSpec

    import purejaxppo
    from purejaxppo import PPOConfig, parallel, train_seeds
    from purejaxppo.sweep import sweep

    assert jax.device_count() == 4, jax.devices()
    config = PPOConfig(
        num_envs=4, num_steps=32, total_timesteps=768, update_epochs=2, num_minibatches=2,
        obs_clip=9.5,  # unused without obs normalization; a config (and programs) of its own
    )
    # 3 settings x 2 seeds = 6 runs in calls of 4 (one run per device), the last call padded
    sharded = sweep(config, {"lr": LRS}, num_seeds=2, seed=SEED, max_parallel=4)
    compiled, _ = parallel._compiled(config, 4, True, tuple(jax.devices()), False)
    spec = compiled.input_shardings[0][0]
    assert spec.spec == PartitionSpec("runs") and len(spec.device_set) == 4, spec
    seeds = train_seeds(config, num_seeds=2, seed=SEED)  # sharded too: 2 seeds padded to 4
    arrays = {f"sweep{i}_{n}": v for i, m in enumerate(sharded.metrics) for n, v in m.items()}
    arrays.update({f"seeds_{n}": v for n, v in seeds.metrics.items()})
    np.savez(sys.argv[1], **arrays)
    """
)


@pytest.mark.timeout(400)
def test_sharded_equals_single_device(tiny_config, tmp_path):
    env = forced_devices_env(4)
    script = f"LRS = {LRS!r}\nSEED = {SEED}\n{SCRIPT}"
    path = tmp_path / "sharded.npz"
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=380,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sharded = np.load(path)
    # the single-device oracle, in this process (one device)
    config = tiny_config.replace(obs_clip=9.5)
    single = sweep(config, {"lr": LRS}, num_seeds=2, seed=SEED)
    for i, metrics in enumerate(single.metrics):
        for name, values in metrics.items():
            got = sharded[f"sweep{i}_{name}"]
            assert got.shape == (2, config.num_updates)
            np.testing.assert_allclose(got, values, rtol=1e-5, atol=1e-6, err_msg=name)
    base = LRS.index(config.hparams.lr)
    for name, values in single.metrics[base].items():
        np.testing.assert_allclose(sharded[f"seeds_{name}"], values, rtol=1e-4, atol=1e-5)
