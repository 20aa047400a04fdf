"""A sweep sharded over 4 (virtual CPU) devices: it trains, records a 4-device layout, and
`rerun_member` gives its bits again on 4 devices (and refuses fewer)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import yaml

from device_env import forced_devices_env
from purejaxppo import ConfigError
from purejaxppo.sweep import rerun_member

SCRIPT = textwrap.dedent(
    """
    import csv, sys
    import jax, numpy as np
    from purejaxppo.cli import main
    from purejaxppo.sweep import rerun_member

    assert jax.device_count() == 4, jax.devices()
    out = sys.argv[1]
    sets = ["num_envs=4", "num_steps=32", "total_timesteps=768", "update_epochs=2",
            "num_minibatches=2", "obs_clip=8.25"]
    argv = ["sweep", "--quiet", "--grid", "lr=1e-3,3e-4,1e-4", "--seeds", "2", "--seed", "1",
            "--max-parallel", "4", "--out", out]
    assert main(argv + [a for s in sets for a in ("--set", s)]) == 0
    rows = [r for r in csv.DictReader(open(f"{out}/metrics.csv")) if r["setting"] == "1"]
    rows.sort(key=lambda r: (int(r["seed"]), int(r["update"])))
    again = rerun_member(out, 1)  # setting 1: runs 2, 3 of the first call of 4
    for name, values in again.items():
        written = np.array([float(r[name]) if r[name] else np.nan for r in rows], values.dtype)
        np.testing.assert_array_equal(written.reshape(values.shape), values, err_msg=name)
    print("bits equal")
    """
)


@pytest.mark.timeout(300)
def test_a_sharded_sweep_member_reruns_bit_for_bit(tmp_path):
    env = forced_devices_env(4)
    out = tmp_path / "sweep"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["bits", "equal"]
    layout = yaml.safe_load((out / "sweep.yaml").read_text())["layout"]
    assert layout["devices"] == 4 and layout["runs_per_call"] == [4]
    with pytest.raises(ConfigError, match="the layout was run on 4 devices, this process has 1"):
        rerun_member(out, 0)  # this process has one device
