"""What a sweep folder keeps: per-run metrics.csv (train's layout plus `setting`), the --log
writers, per-update progress, best.yaml's seeds, runs/<K>/ for eval/render/load_policy, and a
member trained again bit for bit from sweep.yaml."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import pytest
import yaml

from purejaxppo import ConfigError, load_config, load_policy, load_run
from purejaxppo.cli import main
from purejaxppo.export import member_dir
from purejaxppo.sweep import rerun_member

pytestmark = pytest.mark.timeout(300)

# 3 seeds x 2 settings = 6 runs in calls of 4: setting 1 spans both calls (the second padded)
TINY = ["num_envs=4", "num_steps=32", "total_timesteps=768", "update_epochs=2"]
TINY += ["num_minibatches=2", "obs_clip=8.5"]  # obs_clip unused: a config of this module's own
SEEDS, FIRST_SEED, UPDATES = 3, 2, 6


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """(sweep folder, captured stdout, stderr) of one CLI sweep with every option of this file."""
    out = tmp_path_factory.mktemp("sweep") / "s"
    stdout, stderr = io.StringIO(), io.StringIO()
    sets = [arg for s in TINY for arg in ("--set", s)]
    argv = ["sweep", "--config", "cartpole", *sets, "--grid", "lr=1e-3,1e-4"]
    argv += ["--seeds", str(SEEDS), "--seed", str(FIRST_SEED), "--max-parallel", "4"]
    argv += ["--save-params", "--log", "csv,jsonl,tensorboard", "--out", str(out)]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    assert code == 0, stderr.getvalue()[-3000:]
    return out, stdout.getvalue(), stderr.getvalue()


def _rows(path):
    return list(csv.DictReader(path.open()))


def _setting_metrics(path, setting: int) -> dict[str, np.ndarray]:
    """name -> `[seeds, updates]` float64 of one setting's rows of a sweep's metrics.csv."""
    rows = [r for r in _rows(path) if r["setting"] == str(setting)]
    rows.sort(key=lambda r: (int(r["seed"]), int(r["update"])))
    shape = (len({r["seed"] for r in rows}), max(int(r["update"]) for r in rows))
    cell = lambda v: float(v) if v != "" else np.nan  # noqa: E731
    return {n: np.array([cell(r[n]) for r in rows]).reshape(shape) for n in rows[0]}


def test_metrics_csv_is_trains_layout_with_a_leading_setting_column(folder):
    out, _, _ = folder
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    member_header = (out / "runs" / "0" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["setting", "seed", "update", "env_steps"]
    assert header[1:] == member_header  # the columns of a train run folder, generically
    rows = _rows(out / "metrics.csv")
    assert len(rows) == 2 * SEEDS * UPDATES
    keys = {(r["setting"], r["seed"], r["update"]) for r in rows}
    assert len(keys) == len(rows)  # one row per (setting, seed, update)
    assert {int(r["seed"]) for r in rows} == {FIRST_SEED, FIRST_SEED + 1, FIRST_SEED + 2}
    for k in (0, 1):  # the sweep's rows of a setting are its run folder's metrics.csv
        mine = sorted(
            [r for r in rows if r["setting"] == str(k)], key=lambda r: (r["seed"], int(r["update"]))
        )
        member = sorted(
            _rows(out / "runs" / str(k) / "metrics.csv"),
            key=lambda r: (r["seed"], int(r["update"])),
        )
        assert [{c: r[c] for c in member_header} for r in mine] == member


def test_jsonl_and_tensorboard_label_runs_by_setting_and_seed(folder):
    out, _, _ = folder
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * SEEDS * UPDATES and list(lines[0])[:3] == ["setting", "seed", "update"]
    for k in (0, 1):
        for s in range(FIRST_SEED, FIRST_SEED + SEEDS):
            events = list((out / "tb" / f"setting_{k}" / f"seed_{s}").glob("events.out.*"))
            assert events and events[0].stat().st_size > 0


def test_progress_is_one_bar_with_percentage(folder):
    _, _, err = folder
    assert "compiling" in err and "100%" in err and f"{2 * UPDATES}/{2 * UPDATES}" in err
    assert "training (call 2/2)" in err
    assert "training: call" not in err


def test_a_member_trained_again_has_the_sweeps_bits(folder):
    out, _, _ = folder
    for k in (0, 1):  # setting 0 sits in the first call, setting 1 in both
        written = _setting_metrics(out / "metrics.csv", k)
        again = rerun_member(out, k)
        assert again["episode_return"].shape == (SEEDS, UPDATES)
        assert set(again) == set(written) - {"setting", "seed", "update"}
        for name, values in again.items():
            # metrics.csv writes repr(float): the float32 values read back exactly
            np.testing.assert_array_equal(written[name].astype(values.dtype), values, name)
    with pytest.raises(ConfigError, match="setting 2 is not in the sweep"):
        rerun_member(out, 2)


def test_best_yaml_says_how_to_retrain_with_the_same_seeds(folder):
    out, stdout, _ = folder
    text = (out / "best.yaml").read_text()
    command = f"purejaxppo train --config {out / 'best.yaml'} --seeds {SEEDS} --seed {FIRST_SEED}"
    assert f"{SEEDS} seeds ({FIRST_SEED}..{FIRST_SEED + SEEDS - 1})" in text and command in text
    assert command in stdout
    best = load_config(out / "best.yaml")
    rank_1 = _rows(out / "results.csv")[0]
    assert best.hparams.lr == pytest.approx(float(rank_1["lr"]))
    recorded = yaml.safe_load((out / "sweep.yaml").read_text())
    assert recorded["save_params"] is True and recorded["layout"]["runs_per_call"] == [4]


def test_eval_and_load_policy_read_a_sweep_member(folder, capsys):
    out, _, _ = folder
    assert main(["eval", str(out), "--run", "1", "--episodes", "2", "--max-steps", "50"]) == 0
    report = json.loads((out / "runs" / "1" / "eval.json").read_text())
    assert report["seeds"] == [FIRST_SEED, FIRST_SEED + 1, FIRST_SEED + 2]
    policy = load_policy(out, seed=FIRST_SEED + 2, deterministic=True, run=1)
    assert policy(np.zeros(4, np.float32)).shape == ()
    assert load_run(out, run=0).seeds == [FIRST_SEED, FIRST_SEED + 1, FIRST_SEED + 2]
    gif = out.parent / "member.gif"
    argv = ["render", str(out), "--run", "1", "--seed", str(FIRST_SEED + 1), "--max-steps", "5"]
    assert main([*argv, "--out", str(gif)]) == 0 and gif.read_bytes()[:3] == b"GIF"
    capsys.readouterr()
    assert main(["eval", str(out)]) == 2  # a sweep folder needs --run
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a sweep folder" in err[0] and "--run K" in err[0]
    assert main(["render", str(out), "--out", str(out / "x.gif")]) == 2
    assert "--run K" in capsys.readouterr().err


def test_a_sweep_without_params_names_the_fix(folder, tmp_path, capsys):
    out, _, _ = folder
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "sweep.yaml").write_text((out / "sweep.yaml").read_text())
    assert main(["eval", str(bare), "--run", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rerun the sweep with --save-params" in err[0]
    with pytest.raises(ConfigError, match="not a sweep folder"):
        member_dir(out / "runs" / "0", run=0)


def test_unknown_sweep_keys_suggest_ours(tmp_path, capsys):
    assert main(["sweep", "--grid", "learning_rate=1e-3,3e-4", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown field 'learning_rate' in the sweep space; did you mean 'lr'?"
    file = tmp_path / "s.yaml"
    file.write_text("grid: {lr: [1.0e-3]}\nseeds_: 2\n")
    assert main(["sweep", "--sweep", str(file), "--out", str(tmp_path / "b")]) == 2
    assert "did you mean 'seeds'?" in capsys.readouterr().err
    file.write_text("grid: {lr: [1.0e-3]}\nlearning_rate: 1.0e-3\n")
    assert main(["sweep", "--sweep", str(file), "--out", str(tmp_path / "c")]) == 2
    assert "config keys go under set: (static) or grid:" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in "abc")  # refused before anything is written
