"""Sweep statistics, spaces, planning and errors against NumPy and hand-computed numbers (no training)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from purejaxppo import ConfigError, PPOConfig
from purejaxppo.cli import main
from purejaxppo.run_axis import chunk_plan, pad_runs
from purejaxppo.sweep import Choice, LogUniform, Uniform, expand_space
from purejaxppo.sweep_plan import estimate_run_bytes, plan_groups, resolve_max_parallel
from purejaxppo.sweep_results import SweepResult, bootstrap_ci, iqm, rank_order

pytestmark = pytest.mark.timeout(120)

BASE = PPOConfig(num_envs=4, num_steps=32, total_timesteps=768, update_epochs=2, num_minibatches=2)


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm([1.0, 2.0, 3.0, 4.0, 100.0]) == 3.0  # drops 1 and 100
    assert iqm([5.0, 1.0, 3.0]) == 3.0  # n < 4: the plain mean
    x = np.random.default_rng(1).normal(size=8)
    assert iqm(x) == pytest.approx(np.mean(np.sort(x)[2:6]))
    x = np.random.default_rng(2).normal(size=13)  # drops 3 each side
    assert iqm(x) == pytest.approx(np.mean(np.sort(x)[3:10]))
    assert iqm([np.nan, 1.0, 2.0, 3.0, 4.0]) == 2.5  # NaN seeds are ignored
    assert np.isnan(iqm([np.nan, np.nan]))


def test_bootstrap_interval_on_known_numbers():
    # means of resamples of [0, 1]: 0 (1/4), 0.5 (1/2), 1 (1/4): the 2.5% / 97.5% points are 0, 1
    assert bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    # [0, 0, 3]: P(mean = 0) = 8/27 > 2.5%, P(mean = 3) = 1/27 > 2.5%
    assert bootstrap_ci([0.0, 0.0, 3.0]) == (0.0, 3.0)
    assert bootstrap_ci([7.0, 7.0, 7.0]) == (7.0, 7.0)
    assert bootstrap_ci([4.0]) == (4.0, 4.0)
    assert all(np.isnan(bootstrap_ci([np.nan])))
    x = np.random.default_rng(0).normal(10.0, 2.0, size=64)
    low, high = bootstrap_ci(x)
    assert bootstrap_ci(x) == (low, high)  # fixed seed: reproducible
    half = 1.96 * x.std() / np.sqrt(x.size)  # the normal approximation
    assert low < x.mean() < high
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)


def test_rank_order_highest_first_ties_in_order_nan_last():
    np.testing.assert_array_equal(
        rank_order(np.array([1.0, np.nan, 3.0, 3.0, 2.0])), [2, 3, 4, 0, 1]
    )


def _result(finals: np.ndarray) -> SweepResult:
    """A hand-built result whose final returns are `finals [settings, seeds]`: the returns are 0
    for the first 90% of 20 updates and `finals` in the last 2 (the final-return window)."""
    settings = [{"lr": 1e-4 * (i + 1)} for i in range(len(finals))]
    metrics = []
    for row in finals:
        ret = np.zeros((len(row), 20))
        ret[:, -2:] = np.asarray(row)[:, None]
        metrics.append(
            {"episode_return": ret, "env_steps": np.tile(np.arange(1, 21) * 128, (len(row), 1))}
        )
    return SweepResult(
        config=BASE,
        settings=settings,
        configs=[BASE.replace(**s) for s in settings],
        seeds=np.arange(3, 3 + finals.shape[1]),
        metrics=metrics,
        num_programs=1,
        compile_seconds=0.0,
        run_seconds=1.0,
        env_steps_per_second=1.0,
    )


def test_sweep_result_statistics_ranking_best_and_csv(tmp_path):
    finals = np.array(
        [[10.0, 20.0, 30.0, 40.0], [50.0, 50.0, 50.0, np.nan], [0.0, 1.0, 2.0, 100.0]]
    )
    result = _result(finals)
    np.testing.assert_allclose(result.final_returns, finals)
    stats = result.statistics()
    np.testing.assert_allclose(stats["mean"], [25.0, 50.0, 25.75])
    np.testing.assert_allclose(
        stats["std"], [np.std([10, 20, 30, 40]), 0.0, np.std([0, 1, 2, 100])]
    )
    np.testing.assert_allclose(stats["iqm"], [25.0, 50.0, 1.5])
    np.testing.assert_array_equal(stats["n"], [4, 3, 4])
    np.testing.assert_array_equal(stats["rank"], [3, 1, 2])
    assert result.ranking() == [1, 2, 0]
    hparams, config = result.best()
    assert hparams.lr == pytest.approx(2e-4) and config.hparams == hparams
    assert result.swept_fields == ["lr"]
    rows = list(csv.DictReader(io.StringIO(result.to_csv(tmp_path / "r.csv").read_text())))
    assert [r["setting"] for r in rows] == ["1", "2", "0"] and rows[0]["rank"] == "1"
    assert float(rows[2]["final_return_iqm"]) == 25.0 and rows[0]["seed_6"] == ""
    assert float(rows[1]["ci95_low"]) == pytest.approx(bootstrap_ci(finals[2])[0])
    assert "rank" in result.table() and "last 10% of updates" in result.table()


def test_grid_random_and_list_spaces():
    grid = expand_space({"lr": [1e-4, 1e-3], "ent_coef": [0, 0.01, 0.1]})
    assert len(grid) == 6 and grid[1] == {"lr": 1e-4, "ent_coef": 0.01}
    space = {
        "lr": LogUniform(1e-4, 1e-2),
        "clip_eps": Uniform(0.1, 0.3),
        "vf_coef": Choice((0.5, 1.0)),
    }
    draws = expand_space(space, num_samples=400, sample_seed=3)
    assert draws == expand_space(space, num_samples=400, sample_seed=3)
    assert draws != expand_space(space, num_samples=400, sample_seed=4)
    lr = np.array([d["lr"] for d in draws])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-2
    assert np.mean(np.log10(lr)) == pytest.approx(-3.0, abs=0.1)  # uniform in the exponent
    assert {d["vf_coef"] for d in draws} == {0.5, 1.0}
    both = expand_space({"num_envs": [4, 8], "lr": LogUniform(1e-4, 1e-2)}, num_samples=3)
    assert len(both) == 6 and [d["lr"] for d in both[:3]] == [d["lr"] for d in both[3:]]
    assert expand_space([{"lr": "3e-4"}, {"gamma": 0.9}]) == [{"lr": 3e-4}, {"gamma": 0.9}]


@pytest.mark.parametrize(
    "space, kwargs, message",
    [
        ({"ent_coeff": [0.0]}, {}, "did you mean 'ent_coef'"),
        ({"num_envs": Choice((4, 8))}, {}, "num_envs is a static field"),
        ({"lr": []}, {}, "the grid for lr is empty"),
        ([], {}, "list of settings is empty"),
        ({"lr": [1e-3, -1.0]}, {}, "lr=-1.0 is out of range"),
        ({"gamma": [1.5]}, {}, "gamma=1.5 is out of range"),
        ({"lr": LogUniform(0.0, 1e-2)}, {"num_samples": 2}, "lr=0.0 is out of range"),
        ({"clip_eps": Uniform(0.3, 0.1)}, {"num_samples": 2}, "needs low <= high"),
        ({"lr": LogUniform(1e-4, 1e-2)}, {}, "needs num_samples >= 1"),
        ({"lr": [1e-3]}, {"num_samples": 4}, "applies to random fields only"),
        ([{"lr": True}], {}, "lr must be a number"),
    ],
)
def test_space_errors(space, kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        expand_space(space, **kwargs)


def test_groups_by_static_config_and_memory_bound():
    settings = [
        {"lr": 1e-3, "num_envs": 4},
        {"lr": 2e-3, "num_envs": 8},
        {"lr": 3e-3, "num_envs": 4},
    ]
    configs, groups = plan_groups(BASE, settings, num_seeds=2, max_parallel=None)
    assert [g.setting_ids for g in groups] == [[0, 2], [1]]
    assert [g.config.num_envs for g in groups] == [4, 8] and groups[1].static == {"num_envs": 8}
    assert configs[1].num_envs == 8 and configs[1].hparams.lr == pytest.approx(2e-3)
    assert groups[0].max_parallel == 4  # all 2 settings x 2 seeds fit
    with pytest.raises(ConfigError, match="num_envs must be a positive integer"):
        plan_groups(BASE, [{"num_envs": 0}], 1, None)
    with pytest.raises(ConfigError, match="settings x seeds = 0"):
        resolve_max_parallel(BASE, 0, None)
    with pytest.raises(ConfigError, match="more than half this machine's memory"):
        resolve_max_parallel(BASE, 10**12, None)
    with pytest.raises(ConfigError, match="use --max-parallel 2 or less"):
        resolve_max_parallel(BASE, 100, 50, budget=_two_runs())
    with pytest.raises(ConfigError, match="max_parallel must be a positive integer"):
        resolve_max_parallel(BASE, 10, 0)
    assert resolve_max_parallel(BASE, 100, None, budget=_two_runs()) == 2


def _two_runs() -> int:
    return 2 * estimate_run_bytes(BASE) + 1


def test_chunk_plan_and_padding():
    assert chunk_plan(10, 6, 1) == (6, 2)  # last call padded from 4 to 6 runs
    assert chunk_plan(10, None, 1) == (10, 1)
    assert chunk_plan(10, None, 4) == (12, 1)  # padded to a multiple of the devices
    assert chunk_plan(10, 6, 4) == (4, 3)  # rounded down: never more than max_parallel
    assert chunk_plan(3, 2, 4) == (4, 1)  # at least one run per device
    padded = pad_runs({"a": np.arange(3)}, 5)
    np.testing.assert_array_equal(padded["a"], [0, 1, 2, 2, 2])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "lr=1e-4,-3e-4"], "lr=-0.0003 is out of range"),
        (["--grid", "gama=0.9"], "did you mean 'gamma'"),
        (["--random", "num_envs=uniform:4:8", "--samples", "2"], "num_envs is a static field"),
        (["--random", "lr=normal:0:1", "--samples", "2"], "must be loguniform:LOW:HIGH"),
        (["--random", "lr=loguniform:1e-4:1e-2"], "needs num_samples >= 1"),
        ([], "nothing to sweep"),
        (["--grid", "lr=1e-3", "--seeds", "0"], "--seeds must be a positive integer"),
        (["--grid", "lr=1e-3", "--list", "lr=1e-4"], "not both"),
        (["--grid", "lr=1e-3", "--max-parallel", "0"], "max_parallel must be a positive integer"),
        (["--grid", "lr"], "must look like key=value"),
    ],
)
def test_cli_errors_are_one_line_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "s"
    assert main(["sweep", "--quiet", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1], err
    assert not out.exists()


def test_cli_sweep_file_errors(tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    path.write_text("grid:\n  lr: []\n")
    assert main(["sweep", "--sweep", str(path), "--out", str(tmp_path / "s")]) == 2
    assert "the grid for lr is empty" in capsys.readouterr().err
    path.write_text("grids:\n  lr: [1e-3]\n")
    assert main(["sweep", "--sweep", str(path), "--out", str(tmp_path / "s")]) == 2
    assert "did you mean 'grid'" in capsys.readouterr().err
