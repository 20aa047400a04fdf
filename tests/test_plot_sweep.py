"""`purejaxppo plot SWEEP_DIR --metric NAME`: per-setting curves from the sweep's metrics.csv,
and one clear error line for an older sweep folder or an unknown metric."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import purejaxppo.io.plots as plots
from purejaxppo.cli import main
from purejaxppo.io.sweep_plots import read_sweep_metrics

pytestmark = pytest.mark.timeout(120)
LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
SEEDS, UPDATES = 3, 24


def curves(setting: int) -> np.ndarray:
    """`[seeds, updates]` returns; a higher setting index learns faster, except setting 2."""
    rng = np.random.default_rng(setting)
    slope = 10.0 if setting == 2 else setting
    return np.cumsum(rng.normal(slope, 1.0, (SEEDS, UPDATES)), axis=1)


def write_sweep(folder, with_metrics: bool = True, reference: float | None = 150.0):
    """results.csv as `purejaxppo sweep` writes it (ranked rows, seed_<s> columns) and, unless
    `with_metrics` is False (an older sweep folder), a metrics.csv with a setting column."""
    folder.mkdir(parents=True)
    finals = {i: curves(i)[:, -3:].mean(axis=1) for i in range(len(LRS))}
    order = sorted(finals, key=lambda i: -finals[i].mean())
    with open(folder / "results.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        seeds = [f"seed_{s}" for s in range(SEEDS)]
        writer.writerow(["rank", "setting", "lr", "final_return_mean", "num_seeds", *seeds])
        for rank, i in enumerate(order):
            writer.writerow([rank + 1, i, LRS[i], finals[i].mean(), SEEDS, *finals[i]])
    if with_metrics:
        with open(folder / "metrics.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["setting", "seed", "update", "env_steps", "episode_return", "approx_kl"]
            )
            for i in range(len(LRS)):
                for s, row in enumerate(curves(i)):
                    for u, value in enumerate(row):
                        kl = "" if u % 4 else 0.01 * (i + 1) + 0.001 * s
                        writer.writerow([i, s, u + 1, (u + 1) * 8192, value, kl])
    if reference is not None:
        text = f"config:\n  env_id: CartPole-v1\n  reference_return: {reference}\nseeds: {SEEDS}\n"
        (folder / "sweep.yaml").write_text(text)
    return folder


@pytest.fixture
def figures(monkeypatch):
    """Every figure the CLI saves, for inspection."""
    saved, save = [], plots.save_figure
    monkeypatch.setattr(
        plots, "save_figure", lambda fig, path: saved.append(fig) or save(fig, path)
    )
    return saved


def drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig.axes[0]


def test_read_sweep_metrics(tmp_path):
    sweep = write_sweep(tmp_path / "s")
    by_setting = read_sweep_metrics(sweep / "metrics.csv")
    assert sorted(by_setting) == [str(i) for i in range(len(LRS))]
    np.testing.assert_allclose(by_setting["4"]["episode_return"], curves(4))
    assert "setting" not in by_setting["4"] and by_setting["4"]["approx_kl"].shape == (
        SEEDS,
        UPDATES,
    )


def test_metric_draws_the_top_settings_curves(tmp_path, figures):
    sweep = write_sweep(tmp_path / "s")
    assert main(["plot", str(sweep), "--metric", "approx_kl", "--top", "3"]) == 0
    ax = drawn(figures[-1])
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["#1 lr=0.001 (3 seeds)", "#2 lr=0.03 (3 seeds)", "#3 lr=0.01 (3 seeds)"]
    kl = ax.get_lines()[0].get_ydata()  # setting 2: mean over seeds, logged every 4th update
    np.testing.assert_allclose(kl, np.full(UPDATES // 4, 0.03 + 0.001))
    assert ax.get_title().startswith("top 3 of 6 settings of s")
    assert ax.get_ylabel() == "approx kl" and not any("reference" in t for t in labels)
    legend, box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= box.x1


def test_episode_return_curves_with_band_reference_and_smoothing(tmp_path, figures):
    sweep = write_sweep(tmp_path / "s")
    assert main(["plot", str(sweep), "--metric", "episode_return", "--smooth", "4"]) == 0
    ax = drawn(figures[-1])
    assert len([ln for ln in ax.get_lines() if ln.get_label().startswith("#")]) == 5
    (ref,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("reference return")]
    assert ref.get_ydata()[0] == 150.0
    assert len(ax.collections) == 5 and "95% bootstrap CI" in ax.get_title()
    from purejaxppo.io.plots import smooth_curves

    expected = smooth_curves(curves(2), 4).mean(axis=0)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), expected)


def test_without_metric_the_final_return_figure_stays(tmp_path, figures):
    sweep = write_sweep(tmp_path / "s")
    assert main(["plot", str(sweep)]) == 0
    assert drawn(figures[-1]).get_title().startswith("final return vs lr")


@pytest.mark.parametrize(
    "args, with_metrics, message",
    [
        (["--metric", "approx_kl"], False, "has no metrics.csv (a sweep from an older purejaxppo)"),
        (["--smooth", "3"], False, "rerun the sweep, or plot it without them"),
        (["--metric", "aprox_kl"], True, "did you mean 'approx_kl'? (choose from episode_return"),
        (["--metric", "eval_return"], True, "choose from episode_return, approx_kl)"),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, args, with_metrics, message):
    sweep = write_sweep(tmp_path / "s", with_metrics)
    assert main(["plot", str(sweep), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (sweep / "plot.png").exists()


def test_old_sweep_folder_with_the_default_metric_still_plots(tmp_path):
    sweep = write_sweep(tmp_path / "s", with_metrics=False, reference=None)
    assert main(["plot", str(sweep), "--metric", "episode_return"]) == 0
    assert (sweep / "plot.png").is_file()


def test_write_sweep_plots_top_curves_and_final_returns(tmp_path, figures):
    from purejaxppo.io.sweep_plots import write_sweep_plots
    from purejaxppo.loading import load_config
    from purejaxppo.sweep_results import SweepResult

    config = load_config("acrobot")  # reference_return -90
    steps = np.tile(np.arange(1, UPDATES + 1) * 8192.0, (SEEDS, 1))
    result = SweepResult(
        config=config,
        settings=[{"lr": lr} for lr in LRS],
        configs=[config] * len(LRS),
        seeds=np.arange(SEEDS),
        metrics=[{"episode_return": curves(i), "env_steps": steps} for i in range(len(LRS))],
        num_programs=1,
        compile_seconds=0.0,
        run_seconds=1.0,
        env_steps_per_second=1.0,
    )
    paths = write_sweep_plots(result, tmp_path, top=2)
    assert [p.name for p in paths] == ["learning_curves.png", "return_vs_lr.png"]
    curves_ax, final_ax = (drawn(f) for f in figures)
    labels = [line.get_label() for line in curves_ax.get_lines()]
    assert labels == ["#1 lr=0.001 (3 seeds)", "#2 lr=0.03 (3 seeds)", "reference return -90"]
    assert curves_ax.get_title().startswith("top 2 of 6 settings of the sweep")
    assert "bars: 95% bootstrap CI of the mean over seeds" in final_ax.get_title()
