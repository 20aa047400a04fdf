"""What is guaranteed, exactly: the same config, keys, batch shape and device layout give the
same bits, in a fresh process too; and `rerun` gets a batch member back bit for bit."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

from purejaxppo import load_config, rerun
from purejaxppo.cli import main

pytestmark = pytest.mark.timeout(300)

TINY = ["total_timesteps=2048", "num_steps=64", "num_envs=4"]

_DIGEST = """
import hashlib, numpy as np, purejaxppo as pj
config = pj.load_config("cartpole", {overrides!r})
result = pj.train_seeds(config, num_seeds=3, seed=7)
digest = hashlib.sha256()
for name in sorted(result.metrics):
    digest.update(np.ascontiguousarray(result.metrics[name]).tobytes())
print(digest.hexdigest())
"""


def test_same_config_keys_and_batch_give_the_same_bits_in_fresh_processes():
    script = _DIGEST.format(overrides=TINY)
    digests = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=240
        ).stdout.strip()
        for _ in range(2)
    ]
    assert len(digests[0]) == 64 and digests[0] == digests[1]


def _csv_rows(path, seed):
    with path.open() as f:
        return [r for r in csv.DictReader(f) if int(r["seed"]) == seed]


def test_rerun_gets_a_batch_member_back_bit_for_bit(tmp_path):
    out = tmp_path / "run"
    sets = [x for kv in TINY for x in ("--set", kv)]
    assert main(["train", "--seeds", "3", "--seed", "4", "--quiet", "--out", str(out), *sets]) == 0
    again = rerun(out, seed=5)
    rows = _csv_rows(out / "metrics.csv", 5)
    for name in ("episode_return", "policy_loss", "value_loss", "approx_kl", "grad_norm"):
        written = np.array([float(r[name]) if r[name] else np.nan for r in rows])
        np.testing.assert_array_equal(again[name][0].astype(np.float64), written, err_msg=name)
    whole = rerun(out)
    assert whole["episode_return"].shape == (3, load_config("cartpole", TINY).num_updates)
    np.testing.assert_array_equal(whole["policy_loss"][1], again["policy_loss"][0])


def test_rerun_refuses_what_the_folder_does_not_hold(tmp_path):
    from purejaxppo import ConfigError

    out = tmp_path / "run"
    sets = [x for kv in TINY for x in ("--set", kv)]
    assert main(["train", "--seeds", "2", "--quiet", "--out", str(out), *sets]) == 0
    with pytest.raises(ConfigError, match=r"seed 9 is not in this run; it trained seeds 0..1"):
        rerun(out, seed=9)
    with pytest.raises(ConfigError, match="is a run folder, not a sweep folder"):
        rerun(out, setting=0)
    with pytest.raises(ConfigError, match="is not a run folder"):
        rerun(tmp_path)
