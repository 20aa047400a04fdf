"""Checkpoints: the whole batched runner state round-trips bit for bit; only the last k are kept;
a corrupt, cut or unfinished checkpoint is reported by name and the previous one is used."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import jax
import numpy as np
import pytest

from purejaxppo import ConfigError, RunnerState
from purejaxppo.driver import train_chunked
from purejaxppo.envs import EpisodeStatsState
from purejaxppo.io.checkpoint import Checkpointer, CheckpointStore, state_digest
from purejaxppo.loading import config_to_dict
from test_eval import CHUNK, run_config

pytestmark = [
    pytest.mark.timeout(240),
    # orbax leaves an asyncio callback behind when a corrupt checkpoint fails to restore
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def states():
    """Host copies of the batched state (2 seeds) after updates 72, 144 and 216."""
    config = run_config()
    seen, stop = [], threading.Event()

    class Keep:
        def on_chunk(self, metrics, state):
            seen.append(jax.device_get(state))
            if len(seen) == 3:
                stop.set()

    train_chunked(config, 2, 0, chunk_updates=CHUNK, callbacks=[Keep()], stop=stop)
    return config, seen


@pytest.fixture
def saved(tmp_path, states):
    """A checkpoint folder holding updates 72, 144 and 216."""
    config, seen = states
    store = CheckpointStore(tmp_path / "checkpoints", keep=3)
    meta = {"seed": 0, "num_seeds": 2, "config": config_to_dict(config)}
    for state in seen:
        store.save(state, meta)
    store.close()
    return tmp_path / "checkpoints"


def _restore(directory: Path, config, step=None):
    warnings: list[str] = []
    store = CheckpointStore(directory, create=False)
    try:
        return store.restore(config, 2, step, warn=warnings.append), warnings
    finally:
        store.close()


def _assert_same(restored, original):
    assert jax.tree.structure(restored) == jax.tree.structure(original)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(original), strict=True):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_round_trip_restores_every_leaf(saved, states):
    config, seen = states
    checkpoint, warnings = _restore(saved, config)
    assert warnings == [] and checkpoint.step == 216
    assert isinstance(checkpoint.state, RunnerState)
    assert isinstance(checkpoint.state.env_state, EpisodeStatsState)
    _assert_same(checkpoint.state, seen[2])
    assert checkpoint.meta["seed"] == 0 and checkpoint.meta["num_seeds"] == 2
    assert checkpoint.meta["config"] == config_to_dict(config)
    assert np.asarray(checkpoint.state.update).tolist() == [216, 216]
    older, _ = _restore(saved, config, step=72)
    _assert_same(older.state, seen[0])


def test_only_the_last_k_are_kept(tmp_path, states):
    config, seen = states
    store = CheckpointStore(tmp_path / "ck", keep=2)
    for state in seen:
        store.save(state, {"seed": 0, "num_seeds": 2})
    assert store.steps() == [144, 216]
    store.save(seen[2], {"seed": 0, "num_seeds": 2})  # saving a step again changes nothing
    store.close()
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["144", "216"]


def _largest_data_file(step_dir: Path) -> Path:
    return max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def test_truncated_file_falls_back_to_the_previous_checkpoint(saved, states):
    config, seen = states
    victim = _largest_data_file(saved / "216")
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    checkpoint, warnings = _restore(saved, config)
    assert checkpoint.step == 144
    _assert_same(checkpoint.state, seen[1])
    assert len(warnings) == 1 and str(saved / "216") in warnings[0], warnings
    with pytest.raises(ConfigError, match="is unreadable"):
        _restore(saved, config, step=216)


def test_flipped_bytes_are_caught(saved, states):
    """Damage that orbax might read back without an error is caught by the saved digest."""
    config, seen = states
    victim = _largest_data_file(saved / "216")
    data = bytearray(victim.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    victim.write_bytes(bytes(data))
    checkpoint, warnings = _restore(saved, config)
    assert checkpoint.step == 144 and str(saved / "216") in warnings[0]


def test_unfinished_saves_are_ignored_and_cut_ones_skipped(saved, states):
    config, seen = states
    (saved / "288.orbax-checkpoint-tmp-1700000000").mkdir()  # a save cut off before its rename
    (saved / "288.orbax-checkpoint-tmp-1700000000" / "junk").write_bytes(b"\0" * 10)
    shutil.rmtree(saved / "216" / "state")  # a step folder missing its arrays
    checkpoint, warnings = _restore(saved, config)
    assert checkpoint.step == 144 and len(warnings) == 1 and "216" in warnings[0]


def test_discard_after_moves_newer_steps_aside(saved, states):
    store = CheckpointStore(saved, create=False)
    moved = store.discard_after(144)
    assert [p.name.split("-")[1] for p in moved] == ["216"] and store.steps() == [72, 144]
    store.close()


def test_missing_or_empty_folders_are_config_errors(tmp_path, states):
    config, _ = states
    with pytest.raises(ConfigError, match="missing"):
        CheckpointStore(tmp_path / "none", create=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no valid checkpoint"):
        _restore(tmp_path / "empty", config)
    with pytest.raises(ConfigError, match="--keep must be a positive integer"):
        CheckpointStore(tmp_path / "k", keep=0)


def test_digest_sees_any_changed_leaf(states):
    _, seen = states
    state = seen[0]
    bumped = state.replace(update=state.update + 1)
    assert state_digest(state) == state_digest(jax.device_get(state))
    assert state_digest(bumped) != state_digest(state)


def test_checkpointer_saves_every_n_and_the_last_update(tmp_path, states):
    _, seen = states
    store = CheckpointStore(tmp_path / "c", keep=5)
    callback = Checkpointer(store, every=144, num_updates=216, meta={"seed": 0, "num_seeds": 2})
    for state in seen:
        callback.on_chunk({}, state)
    assert store.steps() == [144, 216]
    store.close()
