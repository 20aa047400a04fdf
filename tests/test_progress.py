"""The progress bar: one bar for all seeds, fired once per chunk, numbers equal the metrics."""

from __future__ import annotations

import io

import numpy as np
import pytest

from purejaxppo.driver import train_chunked
from purejaxppo.io.progress import ProgressBar

pytestmark = pytest.mark.timeout(300)

SEEDS, CHUNK = 2, 2  # tiny_config has 6 updates: 3 chunks (shares test_driver's compile)


class Snapshot:
    """Copies the bar's numbers after every chunk (placed after the bar in the callbacks)."""

    def __init__(self, bar: ProgressBar):
        self.bar = bar
        self.seen: list[dict] = []

    def on_chunk(self, metrics, runner_state):
        self.seen.append(dict(self.bar.last, k=metrics["env_steps"].shape[1]))


@pytest.fixture(scope="module")
def shown(tiny_config):
    """(result, bar, snapshots, text the bar printed) of one chunked run with a visible bar."""
    stream = io.StringIO()
    bar = ProgressBar(file=stream)
    snap = Snapshot(bar)
    result = train_chunked(
        tiny_config, num_seeds=SEEDS, seed=3, chunk_updates=CHUNK, callbacks=[bar, snap]
    )
    return result, bar, snap.seen, stream.getvalue()


def test_fires_once_per_chunk_with_the_done_and_total(shown, tiny_config):
    result, bar, seen, _ = shown
    chunks = tiny_config.num_updates // CHUNK
    assert bar.chunks == chunks == len(seen)
    assert [s["done"] for s in seen] == [CHUNK * (i + 1) for i in range(chunks)]
    assert all(s["total"] == tiny_config.num_updates for s in seen)
    assert result.metrics["env_steps"].shape == (SEEDS, tiny_config.num_updates)


def test_mean_return_matches_the_returned_metrics(shown):
    result, _, seen, _ = shown
    returns = result.metrics["episode_return"].astype(np.float64)
    for i, snapshot in enumerate(seen):
        window = returns[:, i * CHUNK : (i + 1) * CHUNK]  # [seeds, k] of that chunk
        per_seed = [np.mean(row[~np.isnan(row)]) for row in window if (~np.isnan(row)).any()]
        expected = np.mean(per_seed) if per_seed else np.nan
        np.testing.assert_allclose(snapshot["mean_return"], expected, rtol=1e-12, equal_nan=True)


def test_rate_is_positive_and_finite(shown):
    _, _, seen, _ = shown
    assert all(np.isfinite(s["steps_per_second"]) and s["steps_per_second"] > 0 for s in seen)


def test_one_bar_for_all_seeds(shown, tiny_config):
    _, _, seen, text = shown
    total = tiny_config.num_updates
    assert f"{total}/{total}" in text
    assert text.count("\n") == 1  # one bar, closed once: not one line per seed
    assert f"return {seen[-1]['mean_return']:.1f}" in text


def test_disabled_bar_prints_nothing_but_counts(tiny_config):
    stream = io.StringIO()
    bar = ProgressBar(enabled=False, file=stream)
    train_chunked(tiny_config, num_seeds=SEEDS, seed=3, chunk_updates=CHUNK, callbacks=[bar])
    assert stream.getvalue() == ""
    assert bar.chunks == tiny_config.num_updates // CHUNK
    assert bar.last["done"] == tiny_config.num_updates


def test_resumed_run_starts_part_way(tiny_config):
    bar = ProgressBar(file=io.StringIO())
    first = train_chunked(tiny_config, num_seeds=SEEDS, seed=3, chunk_updates=CHUNK)
    bar.on_start(tiny_config, first.seeds, start_update=4)
    bar.on_chunk({n: v[:, 4:] for n, v in first.metrics.items()}, None)
    bar.on_end(None)
    assert bar.last["done"] == 6 and bar.chunks == 1


def test_one_bar_over_several_calls_counts_to_their_total(tiny_config):
    """A sweep's bar: opened by the first call, counting every call's updates, with a
    percentage, closed by `close()` only."""
    stream = io.StringIO()
    n = tiny_config.num_updates
    bar = ProgressBar(file=stream, total=2 * n)
    metrics = {"env_steps": np.zeros((3, 2)), "episode_return": np.ones((3, 2))}
    for call in range(2):
        bar.on_start(tiny_config, np.arange(3), 0)
        bar.describe(f"training (call {call + 1}/2)")
        for _ in range(n // 2):
            bar.on_chunk(metrics, None)
        bar.on_end(None)
        assert bar.last["done"] == (call + 1) * n and bar.last["total"] == 2 * n
    bar.close()
    text = stream.getvalue()
    assert "100%" in text and f"{2 * n}/{2 * n}" in text and "call 2/2" in text
    assert text.count("\n") == 1  # one bar, closed once
