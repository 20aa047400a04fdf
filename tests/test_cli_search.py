"""`purejaxppo pbt` and `purejaxppo search`: the files they write, resume from a checkpoint,
replay of the best schedule, and bad input (one line, exit 2)."""

from __future__ import annotations

import csv
import shutil

import pytest
import yaml

from purejaxppo.cli import main
from purejaxppo.io.files import read_metrics_csv

pytestmark = pytest.mark.timeout(600)

BASE = ["--config", "cartpole", "--set", "total_timesteps=6144", "--set", "num_envs=4",
        "--set", "num_steps=32", "--set", "num_minibatches=2", "--set", "update_epochs=2"]  # fmt: skip
# 48 updates of 128 env steps
PBT = ["pbt", *BASE, "--population", "4", "--random", "lr=loguniform:1e-4:1e-2", "--grid",
       "ent_coef=0,0.01,0.02", "--ready-every", "12", "--checkpoint-every", "1", "--quiet"]  # fmt: skip


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def pbt_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pbt") / "run"
    assert main([*PBT, "--out", str(out)]) == 0
    return out


def test_pbt_writes_metrics_lineage_schedule_and_figure(pbt_dir):
    metrics = _rows(pbt_dir / "metrics.csv")
    assert len(metrics) == 4 * 48
    assert {r["member"] for r in metrics} == {"0", "1", "2", "3"}
    lineage = _rows(pbt_dir / "lineage.csv")
    assert len(lineage) == 4 * 4  # 4 intervals x 4 members
    assert list(lineage[0]) == ["interval", "start_update", "end_update", "member", "parent",
                                "score", "ent_coef", "lr"]  # fmt: skip
    assert {float(r["ent_coef"]) for r in lineage} <= {0.0, 0.01, 0.02}
    schedule = yaml.safe_load((pbt_dir / "best_schedule.yaml").read_text())
    assert [e["start_update"] for e in schedule["schedule"]] == [0, 12, 24, 36]
    assert (pbt_dir / "population.png").stat().st_size > 0
    assert sorted(p.name for p in (pbt_dir / "checkpoints").iterdir())[-1] == "48"


def test_pbt_resumed_from_a_checkpoint_writes_the_same_files(pbt_dir, tmp_path):
    """A crash after interval 3: the newest checkpoint is gone; --resume continues from the one
    before and ends with the files of the uninterrupted search, byte for byte."""
    crashed = tmp_path / "crashed"
    shutil.copytree(pbt_dir, crashed)
    shutil.rmtree(crashed / "checkpoints" / "48")
    (crashed / "best_schedule.yaml").unlink()
    assert main(["pbt", "--resume", str(crashed), "--quiet"]) == 0
    for name in ("metrics.csv", "lineage.csv"):
        assert (crashed / name).read_text() == (pbt_dir / name).read_text(), name
    schedule = yaml.safe_load(
        (crashed / "best_schedule.yaml").read_text()
    )  # comments name the folder
    assert schedule == yaml.safe_load((pbt_dir / "best_schedule.yaml").read_text())


def test_replay_follows_the_best_schedule(pbt_dir, tmp_path):
    out = tmp_path / "replay"
    assert (
        main(["pbt", "--replay", str(pbt_dir / "best_schedule.yaml"), "--out", str(out), "--quiet"])
        == 0
    )
    schedule = yaml.safe_load((pbt_dir / "best_schedule.yaml").read_text())["schedule"]
    lr = read_metrics_csv(out / "metrics.csv")["learning_rate"][0]
    for entry in schedule:
        u = entry["start_update"]
        assert lr[u] == pytest.approx(entry["lr"] * (1 - u / 48), rel=1e-5)


def test_halving_writes_a_ranking_and_the_best_config(tmp_path, capsys):
    out = tmp_path / "halving"
    code = main(["search", "--strategy", "halving", *BASE, "--grid", "lr=1e-5,3e-4,1e-3,3e-3",
                 "--ready-every", "12", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    lineage = _rows(out / "lineage.csv")
    alive = [len({r["setting"] for r in lineage if r["interval"] == str(t)}) for t in range(4)]
    assert alive == [4, 2, 1, 1]
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["lr"] in (1e-5, 3e-4, 1e-3, 3e-3)
    assert "best setting" in capsys.readouterr().out


def test_optuna_writes_trials_and_a_study_that_reopens(tmp_path):
    import optuna

    out = tmp_path / "optuna"
    code = main(["search", "--strategy", "optuna", *BASE, "--random", "lr=loguniform:1e-4:1e-2",
                 "--batch-size", "3", "--rounds", "2", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    trials = _rows(out / "trials.csv")
    assert len(trials) == 6 and {t["state"] for t in trials} == {"COMPLETE"}
    study = optuna.load_study(study_name="purejaxppo", storage=f"sqlite:///{out / 'study.db'}")
    values = sorted(t.value for t in study.trials)
    assert values == pytest.approx(sorted(float(t["value"]) for t in trials))
    assert yaml.safe_load((out / "best.yaml").read_text())["lr"] == pytest.approx(
        study.best_params["lr"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", *BASE, "--random", "lr=loguniform:1e-4:1e-2"], "needs --strategy"),
        (["pbt", *BASE, "--grid", "num_envs=4,8"], "only hyperparameters"),
        (["pbt", *BASE, "--random", "lr=loguniform:1e-4:1e-2", "--population", "1"], "at least 2"),
        (["pbt", *BASE, "--random", "lr=normal:1:2"], "loguniform:LOW:HIGH"),
        (["pbt", *BASE], "nothing to sweep"),
        (["pbt", "--replay", "missing.yaml"], "not a schedule file"),
        (["pbt", "--resume", "nowhere"], "no search.yaml"),
        (["search", "--strategy", "halving", *BASE, "--grid", "lr=1e-3"], "setting"),
    ],
)
def test_bad_search_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "searches").exists()  # nothing was written
