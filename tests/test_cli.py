"""End-to-end CLI: run folder contents, exit codes, one-line errors, nothing overwritten."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from purejaxppo import load_config
from purejaxppo.cli import main

pytestmark = pytest.mark.timeout(300)

SMALL = ["--set", "total_timesteps=2048", "--set", "num_steps=64"]


def test_train_writes_a_complete_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--config",
            "cartpole",
            "--seeds",
            "2",
            "--seed",
            "5",
            "--quiet",
            "--out",
            str(out),
            *SMALL,
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoints",
        "config.yaml",
        "learning_curve.png",
        "metrics.csv",
        "summary.json",
    ]
    config = load_config(out / "config.yaml")
    assert config == load_config("cartpole", ["total_timesteps=2048", "num_steps=64"])
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * config.num_updates
    assert {"seed", "update", "env_steps", "episode_return", "approx_kl", "learning_rate"} <= set(
        rows[0]
    )
    assert {r["seed"] for r in rows} == {"5", "6"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [5, 6] and len(summary["final_returns"]) == 2
    assert summary["env_steps_per_second"] > 0
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "final return" in printed and "env steps/s" in printed


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "env_id=CartPole-v2"], "unknown environment 'CartPole-v2'"),
        (["--set", "num_env=8"], "did you mean 'num_envs'"),
        (["--set", "num_envs=four"], "num_envs must be an integer"),
        (["--set", "num_steps=0"], "num_steps must be a positive integer"),
        (["--set", "num_minibatches=3"], "does not divide"),
        (["--set", "total_timesteps=100"], "smaller than one update"),
        (["--set", "lr=-1"], "lr=-1"),
        (["--set", "log_std_init=-0.5"], "continuous actions only"),
        (["--config", "cartpol"], "did you mean cartpole"),
        (["--set", "nokeyvalue"], "must look like key=value"),
        (["--seeds", "0"], "--seeds must be a positive integer"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    code = main(["train", "--quiet", "--out", str(tmp_path / "r"), *args])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1], err
    assert not (tmp_path / "r").exists()


def test_invalid_yaml_and_missing_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("num_envs: [4\n")
    assert main(["train", "--config", str(bad), "--quiet"]) == 2
    assert "invalid YAML" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "none.yaml"), "--quiet"]) == 2
    assert "not found" in capsys.readouterr().err


def test_existing_out_is_not_touched(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.csv").write_text("precious")
    assert main(["train", "--quiet", "--out", str(out), *SMALL]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "metrics.csv").read_text() == "precious"


def test_console_script_subprocess(tmp_path):
    """The installed `purejaxppo` entry point: an error exits 2 without a traceback."""
    script = Path(sys.executable).parent / "purejaxppo"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "purejaxppo.cli"]
    done = subprocess.run(
        [*command, "train", "--set", "env_id=Cartpole-v1"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "close ids: CartPole-v1" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_config_yaml_of_a_run_is_loadable_with_overrides(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--out", str(out), *SMALL, "--set", "ent_coef=0.02"]) == 0
    data = yaml.safe_load((out / "config.yaml").read_text())
    assert data["ent_coef"] == pytest.approx(0.02)
    assert load_config(out / "config.yaml").hparams.ent_coef == pytest.approx(0.02)
