"""The chunked driver: same bits as one call, callbacks see every update, CSV streams, stop works."""

from __future__ import annotations

import threading

import jax
import numpy as np
import pytest

from purejaxppo import train_seeds
from purejaxppo.driver import (
    chunk_lengths,
    default_chunk_updates,
    train_chunked,
    train_runs_chunked,
)
from purejaxppo.io.files import read_metrics_csv
from purejaxppo.io.progress import ProgressBar
from purejaxppo.io.writers import CsvWriter

pytestmark = pytest.mark.timeout(300)


def _assert_same_bits(a, b):
    for name in a.metrics:
        np.testing.assert_array_equal(a.metrics[name], b.metrics[name], err_msg=name)
    for x, y in zip(jax.tree.leaves(a.runner_state), jax.tree.leaves(b.runner_state), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("chunk", [2, 4])  # 4 does not divide 6 updates: a shorter last chunk
def test_chunked_equals_single_call_bit_for_bit(tiny_config, chunk):
    single = train_seeds(tiny_config, num_seeds=2, seed=1)
    chunked = train_chunked(tiny_config, num_seeds=2, seed=1, chunk_updates=chunk)
    assert chunked.completed
    _assert_same_bits(single, chunked)


def test_explicit_seeds_are_the_keys_of_those_seeds(tiny_config):
    # run i gets PRNGKey(seeds[i]): seeds 1, 2 in any order are seed=1's runs, reordered
    ordered = train_chunked(tiny_config, num_seeds=2, seed=1, chunk_updates=2)
    swapped = train_runs_chunked(tiny_config, [2, 1], chunk_updates=2)
    np.testing.assert_array_equal(swapped.seeds, [2, 1])
    for name, values in ordered.metrics.items():
        np.testing.assert_array_equal(swapped.metrics[name], values[::-1], err_msg=name)


def test_resume_from_a_state_equals_uninterrupted(tiny_config):
    full = train_chunked(tiny_config, num_seeds=2, seed=0, chunk_updates=2)
    stop = threading.Event()

    class StopAfterFirstChunk:
        def on_chunk(self, metrics, state):
            stop.set()

    first = train_chunked(
        tiny_config, 2, 0, chunk_updates=2, callbacks=[StopAfterFirstChunk()], stop=stop
    )
    assert not first.completed and first.metrics["env_steps"].shape == (2, 2)
    rest = train_chunked(tiny_config, 2, 0, chunk_updates=2, initial_state=first.runner_state)
    assert rest.completed and rest.metrics["env_steps"].shape == (2, tiny_config.num_updates - 2)
    joined = {n: np.concatenate([first.metrics[n], rest.metrics[n]], axis=1) for n in full.metrics}
    for name in full.metrics:
        np.testing.assert_array_equal(joined[name], full.metrics[name], err_msg=name)
    for x, y in zip(
        jax.tree.leaves(rest.runner_state), jax.tree.leaves(full.runner_state), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_callbacks_and_streamed_csv_match_returned_metrics(tiny_config, tmp_path):
    seen = []

    class Recorder:
        def on_start(self, config, seeds, start_update):
            seen.append(("start", list(seeds), start_update))

        def on_chunk(self, metrics, state):
            seen.append(("chunk", metrics["env_steps"].shape))

        def on_end(self, result):
            seen.append(("end", result.completed))

    path = tmp_path / "metrics.csv"
    result = train_chunked(
        tiny_config,
        num_seeds=3,
        seed=4,
        chunk_updates=2,
        callbacks=[Recorder(), CsvWriter(path), ProgressBar(enabled=False)],
    )
    assert seen == [("start", [4, 5, 6], 0)] + [("chunk", (3, 2))] * 3 + [("end", True)]
    from_csv = read_metrics_csv(path)
    for name, values in result.metrics.items():
        np.testing.assert_allclose(
            from_csv[name], values.astype(np.float64), rtol=1e-6, equal_nan=True, err_msg=name
        )
    np.testing.assert_array_equal(from_csv["seed"][:, 0], [4, 5, 6])


def test_csv_reader_drops_a_cut_last_line(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("seed,update,env_steps,episode_return\n0,1,128,5.0\n0,2,256,6.")
    data = read_metrics_csv(path)
    assert data["env_steps"].shape == (1, 1) and data["episode_return"][0, 0] == 5.0


def test_chunk_sizes():
    assert default_chunk_updates(976) == 61  # a divisor near 976 / 25: no remainder compile
    assert default_chunk_updates(1) == 1
    assert chunk_lengths(10, 0, 4) == (2, 4)
    assert chunk_lengths(10, 8, 4) == (2,)
    assert chunk_lengths(8, 0, 4) == (4,)
    assert chunk_lengths(8, 8, 4) == ()
