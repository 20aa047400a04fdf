"""Plots: the bootstrap band, learning curves and sweep figures as non-empty images, `plot` CLI."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from purejaxppo.cli import main
from purejaxppo.io.files import metrics_csv_text
from purejaxppo.io.plots import bootstrap_band, plot_learning_curves
from purejaxppo.parallel import train_seeds

pytestmark = pytest.mark.timeout(300)

PNG = b"\x89PNG\r\n\x1a\n"


def assert_drawn(path) -> None:
    """A PNG whose pixels are not all one colour."""
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0.01


def fake_metrics(num_seeds: int, num_updates: int, offset: float = 0.0) -> dict:
    rng = np.random.default_rng(num_seeds + num_updates)
    returns = np.cumsum(rng.normal(1, 1, (num_seeds, num_updates)), axis=1) + offset
    returns[:, 0] = np.nan  # no episode finished in the first update
    return {
        "episode_return": returns.astype(np.float32),
        "approx_kl": rng.random((num_seeds, num_updates)).astype(np.float32),
        "env_steps": np.tile(np.arange(1, num_updates + 1) * 512, (num_seeds, 1)).astype(np.int32),
    }


def write_run(folder, num_seeds: int, num_updates: int, offset: float = 0.0):
    folder.mkdir(parents=True)
    metrics = fake_metrics(num_seeds, num_updates, offset)
    (folder / "metrics.csv").write_text(metrics_csv_text(metrics, np.arange(num_seeds)))
    return folder


def test_bootstrap_band_against_the_normal_approximation():
    values = np.random.default_rng(0).normal(10.0, 2.0, (64, 3))
    mean, low, high = bootstrap_band(values, samples=4000)
    np.testing.assert_allclose(mean, values.mean(axis=0))
    half = 1.96 * values.std(axis=0) / np.sqrt(64)  # the CLT interval the bootstrap approaches
    np.testing.assert_allclose(high - mean, half, rtol=0.15)
    np.testing.assert_allclose(mean - low, half, rtol=0.15)


def test_bootstrap_band_edge_cases():
    one = np.array([[1.0, np.nan, 3.0]])
    mean, low, high = bootstrap_band(one)
    np.testing.assert_array_equal(low, mean) and np.testing.assert_array_equal(high, mean)
    same = np.full((5, 2), 7.0)
    assert np.all(bootstrap_band(same)[1] == 7.0) and np.all(bootstrap_band(same)[2] == 7.0)
    with_nan = np.array([[1.0, np.nan], [3.0, 5.0], [5.0, 5.0]])
    mean, low, high = bootstrap_band(with_nan)
    assert mean[1] == 5.0 and low[0] >= 1.0 and high[0] <= 5.0 and low[0] < 3.0 < high[0]


def test_learning_curves_single_and_several_runs(tmp_path):
    single = plot_learning_curves([("a", fake_metrics(4, 20))], tmp_path / "one.png")
    assert_drawn(single)
    runs = [("a", fake_metrics(4, 20)), ("b", fake_metrics(1, 30, 5.0)), ("c", fake_metrics(2, 10))]
    assert_drawn(plot_learning_curves(runs, tmp_path / "many.png", title="three"))


@pytest.fixture(scope="module")
def result(tiny_config):
    return train_seeds(tiny_config, num_seeds=2, seed=2)  # shares test_driver's compile


def test_train_result_plot_returns_a_figure_and_saves(result, tmp_path):
    fig = result.plot(tmp_path / "r.png")
    assert type(fig).__name__ == "Figure" and len(fig.axes) == 1
    line = fig.axes[0].get_lines()[0]
    logged = np.isfinite(result.metrics["episode_return"]).any(axis=0)  # updates with an episode
    np.testing.assert_array_equal(line.get_xdata(), result.metrics["env_steps"][0, logged])
    assert_drawn(tmp_path / "r.png")
    assert result.plot().axes[0].get_ylabel() == "episode return"


def test_train_result_to_dataframe_long_format(result):
    df = result.to_dataframe()
    seeds, updates = result.metrics["env_steps"].shape
    assert len(df) == seeds * updates
    assert list(df.columns[:3]) == ["seed", "update", "env_steps"]
    assert set(result.metrics) <= set(df.columns)
    row = df[(df["seed"] == 3) & (df["update"] == 4)].iloc[0]
    assert row.env_steps == result.metrics["env_steps"][1, 3]
    np.testing.assert_equal(row.episode_return, result.metrics["episode_return"][1, 3])
    assert df["update"].min() == 1 and df["update"].max() == updates


def test_plot_cli_one_run_and_several(tmp_path, capsys):
    a = write_run(tmp_path / "a", 3, 25)
    b = write_run(tmp_path / "b", 2, 15, offset=4.0)
    assert main(["plot", str(a)]) == 0
    assert_drawn(a / "plot.png")
    assert main(["plot", str(a), str(b), "--out", str(tmp_path / "ab.png")]) == 0
    assert_drawn(tmp_path / "ab.png")
    assert main(["plot", str(a), "--metric", "approx_kl", "--out", str(tmp_path / "k.svg")]) == 0
    assert (tmp_path / "k.svg").read_text().lstrip().startswith("<?xml")
    assert "wrote" in capsys.readouterr().out


def write_sweep(folder, settings: list[dict], seeds: int = 3):
    """A results.csv as `purejaxppo sweep` writes it: one row per setting, seed_<s> columns."""
    folder.mkdir(parents=True)
    fields = list(settings[0])
    rng = np.random.default_rng(len(settings))
    with open(folder / "results.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        head = ["rank", "setting", *fields, "final_return_mean", "final_return_std"]
        writer.writerow(
            head + ["ci95_low", "ci95_high", "num_seeds"] + [f"seed_{s}" for s in range(seeds)]
        )
        for i, setting in enumerate(settings):
            finals = rng.normal(100 + 10 * i, 5, seeds)
            finals[0] = np.nan if i == 1 else finals[0]
            stats = [np.nanmean(finals), np.nanstd(finals), 0, 0, seeds]
            writer.writerow(
                [i + 1, i, *setting.values(), *stats, *["" if np.isnan(x) else x for x in finals]]
            )
    return folder


@pytest.mark.parametrize(
    "settings",
    [
        [{"lr": v} for v in (1e-4, 3e-4, 1e-3, 3e-3)],  # return vs value, log axis
        [{"lr": a, "ent_coef": b} for a in (1e-4, 1e-3) for b in (0.0, 0.01, 0.1)],  # heatmap
        [{"lr": a, "ent_coef": b, "gamma": 0.99 - a} for a in (1e-4, 1e-3) for b in (0.0, 0.01)],
        [{"activation": a} for a in ("tanh", "relu")],  # text values: one row per setting
    ],
)
def test_plot_cli_sweep_folder(tmp_path, settings):
    sweep = write_sweep(tmp_path / "sweep", settings)
    assert main(["plot", str(sweep)]) == 0
    assert_drawn(sweep / "plot.png")


def test_plot_cli_long_sweep_table(tmp_path):
    from purejaxppo.cli.plot import read_sweep_results

    sweep = tmp_path / "long"
    sweep.mkdir()
    rows = ["setting,lr,seed,final_return"] + [
        f"{i},{lr},{s},{100 * i + s}" for i, lr in enumerate((0.1, 0.2)) for s in range(3)
    ]
    (sweep / "results.csv").write_text("\n".join(rows) + "\n")
    settings, fields = read_sweep_results(sweep / "results.csv")
    assert fields == ["lr"] and [s["final_returns"] for s in settings] == [
        [0, 1, 2],
        [100, 101, 102],
    ]
    assert main(["plot", str(sweep), "--out", str(tmp_path / "s.png")]) == 0
    assert_drawn(tmp_path / "s.png")


def test_plot_cli_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    write_run(tmp_path / "run", 1, 5)
    cases = [
        ([str(tmp_path / "missing")], "is not a folder"),
        ([str(tmp_path / "empty")], "has no metrics.csv"),
        ([str(tmp_path / "run"), "--out", str(tmp_path / "x.txt")], "use a .png"),
        ([str(tmp_path / "run"), "--metric", "nope"], "choose from episode_return, approx_kl)"),
        ([str(tmp_path / "run"), "--metric", "aprox_kl"], "did you mean 'approx_kl'?"),
    ]
    for args, message in cases:
        assert main(["plot", *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and message in err[-1], err
    assert not (tmp_path / "run" / "plot.png").exists()
