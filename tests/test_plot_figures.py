"""Learning-curve figures people read: smoothing, the band and its words, the reference line,
the evaluation curve, a legend outside the data and env-step ticks that do not collide."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from purejaxppo.cli import main
from purejaxppo.io.files import metrics_csv_text, write_config_yaml
from purejaxppo.io.plots import (
    MAX_X_TICKS,
    bootstrap_band,
    learning_curve_figure,
    si_label,
    smooth_curves,
)

matplotlib.use("Agg")
pytestmark = pytest.mark.timeout(120)


def fake_metrics(num_seeds: int, num_updates: int, step: int = 2048, eval_every: int = 0) -> dict:
    rng = np.random.default_rng(num_seeds * 100 + num_updates)
    returns = np.cumsum(rng.normal(1, 2, (num_seeds, num_updates)), axis=1)
    returns[:, :2] = np.nan  # no episode finished in the first two updates
    returns[0, 7] = np.nan  # nor in one later update of seed 0
    metrics = {
        "episode_return": returns,
        "approx_kl": rng.random((num_seeds, num_updates)),
        "env_steps": np.tile(np.arange(1, num_updates + 1) * step, (num_seeds, 1)).astype(float),
    }
    if eval_every:
        evals = np.full((num_seeds, num_updates), np.nan)
        evals[:, eval_every - 1 :: eval_every] = returns[:, eval_every - 1 :: eval_every] + 3
        metrics["eval_return"] = evals
    return metrics


def drawn(fig):
    """The figure rendered with Agg, so text and legend positions are final."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig.axes[0]


def bands(ax) -> list:
    return [c for c in ax.collections if type(c).__name__.endswith("PolyCollection")]


def test_smooth_curves_against_a_python_loop():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(3, 40))
    values[rng.random(values.shape) < 0.3] = np.nan
    values[1, :5] = np.nan
    for window in (0, 1, 3, 8):
        expected = np.full(values.shape, np.nan)
        for s, row in enumerate(values):
            seen = []
            for u, v in enumerate(row):
                seen += [] if np.isnan(v) else [v]
                if seen:
                    expected[s, u] = np.mean(seen[-max(window, 1) :])
        np.testing.assert_allclose(smooth_curves(values, window), expected, rtol=1e-12)


def test_one_seed_has_no_band_and_no_claim_of_one():
    ax = drawn(learning_curve_figure([("a", fake_metrics(1, 30))]))
    assert bands(ax) == []
    assert "1 seed, no band" in ax.get_title() and "CI" not in ax.get_title()
    assert ax.get_legend().get_texts()[0].get_text() == "a (1 seed)"


@pytest.mark.parametrize("metric", ["episode_return", "approx_kl"])
def test_band_is_the_bootstrap_ci_and_the_title_says_so(metric):
    metrics = fake_metrics(4, 30)
    ax = drawn(learning_curve_figure([("a", metrics)], metric=metric))
    (band,) = bands(ax)
    assert band.get_alpha() >= 0.2
    title = ax.get_title()
    assert "mean over 4 seeds, band: 95% bootstrap CI of the mean" in title
    assert ("smoothed" not in title) and title.splitlines()[0] == metric.replace("_", " ")
    keep = np.isfinite(metrics[metric]).any(axis=0)
    filled = smooth_curves(metrics[metric])[:, keep]
    mean, low, high = bootstrap_band(filled)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), mean)
    np.testing.assert_array_equal(line.get_xdata(), metrics["env_steps"][0, keep])
    ys = band.get_paths()[0].vertices[:, 1]
    np.testing.assert_allclose([ys.min(), ys.max()], [low.min(), high.max()])


def test_mixed_seed_counts_say_which_runs_have_a_band():
    runs = [("a", fake_metrics(3, 20)), ("b", fake_metrics(1, 20))]
    ax = drawn(learning_curve_figure(runs))
    assert len(bands(ax)) == 1 and "band for n > 1" in ax.get_title()


def test_smoothing_changes_the_plotted_data_only(tmp_path):
    metrics = fake_metrics(2, 40)
    plain = drawn(learning_curve_figure([("a", metrics)])).get_lines()[0].get_ydata()
    ax = drawn(learning_curve_figure([("a", metrics)], smooth=5))
    smoothed = ax.get_lines()[0].get_ydata()
    assert not np.allclose(plain, smoothed)
    keep = np.isfinite(metrics["episode_return"]).any(axis=0)
    expected = np.nanmean(smooth_curves(metrics["episode_return"], 5)[:, keep], axis=0)
    np.testing.assert_allclose(smoothed, expected)
    assert "mean of its last 5 logged values" in ax.get_title()
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text(metrics_csv_text(metrics, np.arange(2)))
    before = (run / "metrics.csv").read_bytes()
    assert main(["plot", str(run), "--smooth", "5"]) == 0
    assert (run / "metrics.csv").read_bytes() == before and (run / "plot.png").is_file()
    assert main(["plot", str(run), "--smooth", "-1"]) == 2


def reference_lines(ax) -> list:
    return [ln for ln in ax.get_lines() if ln.get_label().startswith("reference return")]


def test_reference_line_for_returns_only():
    runs = [("a", fake_metrics(2, 20, eval_every=5))]
    ax = drawn(learning_curve_figure(runs, reference_return=475.0))
    (line,) = reference_lines(ax)
    assert list(line.get_ydata()) == [475.0, 475.0] and line.get_linestyle() == "--"
    assert ax.get_ylim()[1] > 475.0  # not on the edge of the axes
    eval_ax = drawn(learning_curve_figure(runs, metric="eval_return", reference_return=475.0))
    assert len(reference_lines(eval_ax)) == 1
    assert (
        reference_lines(
            drawn(learning_curve_figure(runs, metric="approx_kl", reference_return=475.0))
        )
        == []
    )
    assert reference_lines(drawn(learning_curve_figure(runs))) == []


def test_eval_return_is_drawn_joined_and_overlaid():
    metrics = fake_metrics(3, 40, eval_every=5)
    ax = drawn(learning_curve_figure([("a", metrics)], metric="eval_return"))
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), metrics["env_steps"][0, 4::5])
    assert np.isfinite(line.get_ydata()).all()  # the evaluated points, joined
    ax = drawn(learning_curve_figure([("a", metrics)]))
    labels = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(labels) == {"a (3 seeds)", "evaluation"}
    assert labels["evaluation"].get_linestyle() == ":"
    assert labels["evaluation"].get_color() == labels["a (3 seeds)"].get_color()
    metrics["eval_return"][:] = np.nan  # the column exists but the run never evaluated
    assert len(drawn(learning_curve_figure([("a", metrics)])).get_lines()) == 1


def test_legend_lies_right_of_the_axes_inside_the_figure():
    runs = [(f"runs/some-long-run-name-{i}", fake_metrics(2, 20)) for i in range(6)]
    fig = learning_curve_figure(runs, reference_return=10.0)
    ax = drawn(fig)
    legend, box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= box.x1 and legend.x1 <= fig.bbox.x1
    assert len(ax.get_legend().get_texts()) == 7


@pytest.mark.parametrize("num_updates, step", [(600, 2048), (30, 512), (976, 512), (50, 10**6)])
def test_step_ticks_are_few_si_labelled_and_apart(num_updates, step):
    ax = drawn(learning_curve_figure([("a", fake_metrics(2, num_updates, step))]))
    low, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert 2 <= len(ticks) <= MAX_X_TICKS + 1
    texts = [t.get_text() for t in ticks]
    assert texts == [si_label(t.get_position()[0]) for t in ticks] and all(
        len(t) <= 5 for t in texts
    )
    boxes = [t.get_window_extent() for t in ticks]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False)), texts


def test_si_label():
    cases = {0: "0", 512: "512", 2e5: "200k", 1e6: "1M", 1.25e6: "1.25M", 3e9: "3G", 7500: "7.5k"}
    assert {v: si_label(v) for v in cases} == cases


def test_cli_draws_the_run_config_reference(tmp_path, monkeypatch):
    import purejaxppo.io.plots as plots
    from purejaxppo.loading import config_to_dict, load_config

    figures = []
    save = plots.save_figure
    monkeypatch.setattr(
        plots, "save_figure", lambda fig, path: figures.append(fig) or save(fig, path)
    )
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text(
        metrics_csv_text(fake_metrics(2, 20, eval_every=4), np.arange(2))
    )
    write_config_yaml(run / "config.yaml", config_to_dict(load_config("acrobot")))
    assert main(["plot", str(run)]) == 0
    (line,) = reference_lines(drawn(figures[-1]))
    assert line.get_ydata()[0] == load_config("acrobot").reference_return
    assert (
        main(["plot", str(run), "--metric", "eval_return", "--out", str(tmp_path / "e.png")]) == 0
    )
    assert len(reference_lines(drawn(figures[-1]))) == 1
