"""SIGINT during `purejaxppo train` (a subprocess): exit 130 and a readable CSV of the updates done."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from purejaxppo import load_config
from purejaxppo.io.files import read_metrics_csv

SEEDS = 2
# The full CartPole budget (976 updates) one update per chunk: several seconds of training, so
# the signal lands mid-run; 1 update per chunk keeps "finish the current chunk" short.
ARGS = ["--config", "cartpole", "--seeds", str(SEEDS), "--log-every", "1", "--quiet"]


def _data_rows(path) -> int:
    try:
        return max(0, path.read_text().count("\n") - 1)
    except FileNotFoundError:
        return 0


@pytest.mark.timeout(420)
def test_sigint_leaves_a_readable_csv_of_the_updates_done(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "purejaxppo.cli", "train", *ARGS, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        cwd=tmp_path,
    )
    path = out / "metrics.csv"
    deadline = time.monotonic() + 360  # compiling in a fresh process comes first
    while _data_rows(path) < SEEDS and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.fail(f"train ended before it could be interrupted: {process.communicate()}")
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr

    text = path.read_text()
    assert text.endswith("\n")  # no half-written row
    rows = list(csv.reader(text.splitlines()))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["seed", "update", "env_steps"] and "episode_return" in header
    assert all(len(row) == len(header) for row in body)
    for row in body:  # every cell a number (blank only where no episode finished)
        for name, cell in zip(header, row, strict=True):
            blank_ok = ("episode_return", "episode_length", "eval_return", "eval_length")
            assert cell != "" or name in blank_ok, (name, row)
            float(cell or "nan")

    config = load_config("cartpole")
    done = len(body) // SEEDS
    assert len(body) == SEEDS * done and 1 <= done < config.num_updates  # stopped part way
    data = read_metrics_csv(path)
    assert data["update"].shape == (SEEDS, done)
    np.testing.assert_array_equal(data["seed"][:, 0], np.arange(SEEDS))
    np.testing.assert_array_equal(data["update"], np.tile(np.arange(1, done + 1), (SEEDS, 1)))
    np.testing.assert_array_equal(data["env_steps"][0], np.arange(1, done + 1) * config.batch_size)
