"""Writers: CSV/JSONL, TensorBoard event files and W&B offline runs hold the returned metrics."""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from purejaxppo.cli import train_logging
from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.driver import train_chunked
from purejaxppo.io.files import read_metrics_csv
from purejaxppo.io.tensorboard import TensorBoardWriter
from purejaxppo.io.wandb_writer import WandbWriter
from purejaxppo.io.writers import CsvWriter, JsonlWriter

pytestmark = pytest.mark.timeout(300)

SEEDS, FIRST_SEED, CHUNK = 2, 7, 2


def _fake_metrics(num_seeds: int = 2, k: int = 3, start: int = 0) -> dict[str, np.ndarray]:
    """Metrics of k updates with a NaN return (no episode finished) and integer columns."""
    rng = np.random.default_rng(start)
    ret = rng.normal(20, 5, (num_seeds, k)).astype(np.float32)
    ret[0, 1] = np.nan
    steps = (np.arange(start + 1, start + k + 1) * 128).astype(np.int32)
    return {
        "episode_return": ret,
        "episodes_finished": rng.integers(0, 5, (num_seeds, k)).astype(np.int32),
        "approx_kl": rng.random((num_seeds, k)).astype(np.float32),
        "env_steps": np.tile(steps, (num_seeds, 1)),
    }


@pytest.fixture(scope="module")
def logged(tiny_config, tmp_path_factory):
    """One chunked run feeding CSV, JSONL and TensorBoard writers; (result, folder)."""
    folder = tmp_path_factory.mktemp("run")
    writers = [
        CsvWriter(folder / "metrics.csv"),
        JsonlWriter(folder / "metrics.jsonl"),
        TensorBoardWriter(folder / "tb"),
    ]
    result = train_chunked(tiny_config, SEEDS, FIRST_SEED, chunk_updates=CHUNK, callbacks=writers)
    return result, folder


def test_csv_and_jsonl_hold_every_update(logged):
    result, folder = logged
    csv_data = read_metrics_csv(folder / "metrics.csv")
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == result.metrics["env_steps"].size
    for name, values in result.metrics.items():
        np.testing.assert_allclose(csv_data[name], values, rtol=1e-6, equal_nan=True, err_msg=name)
        from_json = np.array(
            [
                [np.nan if r[name] is None else r[name] for r in rows if r["seed"] == s]
                for s in result.seeds
            ]
        )
        np.testing.assert_array_equal(from_json, values.astype(np.float64), err_msg=name)
    assert [r["update"] for r in rows if r["seed"] == FIRST_SEED] == list(range(1, 7))


def test_jsonl_writes_nan_as_null_and_ints_as_ints(tmp_path):
    writer = JsonlWriter(tmp_path / "m.jsonl")
    writer.on_start(None, np.array([0, 1]), start_update=10)
    writer.on_chunk(_fake_metrics(), None)
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert rows[1]["episode_return"] is None and rows[1]["update"] == 12
    assert isinstance(rows[0]["episodes_finished"], int) and rows[0]["env_steps"] == 128


def read_events(path: Path) -> list:
    """Parses a TFRecord event file: [len u64][crc u32][data][crc u32] per record."""
    from tensorboardX.proto.event_pb2 import Event

    data, events, at = path.read_bytes(), [], 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        events.append(Event.FromString(data[at + 12 : at + 12 + length]))
        at += 12 + length + 4
    return events


def tensorboard_scalars(folder: Path) -> dict[str, dict[int, float]]:
    """tag -> {step: value} from every event file in `folder`."""
    out: dict[str, dict[int, float]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in read_events(path):
            for value in event.summary.value:
                out.setdefault(value.tag, {})[event.step] = value.simple_value
    return out


def test_tensorboard_has_one_run_per_seed_with_scalars_per_step(logged):
    result, folder = logged
    assert sorted(p.name for p in (folder / "tb").iterdir()) == [f"seed_{s}" for s in result.seeds]
    for i, seed in enumerate(result.seeds):
        scalars = tensorboard_scalars(folder / "tb" / f"seed_{seed}")
        steps = result.metrics["env_steps"][i]
        logged = {n for n, v in result.metrics.items() if np.isfinite(v[i]).any()}  # NaN: skipped
        assert set(scalars) == (logged - {"env_steps"}) | {"update"}
        assert scalars["update"] == {int(s): float(u + 1) for u, s in enumerate(steps)}
        for name, values in result.metrics.items():
            if name not in logged or name == "env_steps":
                continue
            expected = {
                int(s): float(v) for s, v in zip(steps, values[i], strict=True) if not math.isnan(v)
            }
            assert scalars[name].keys() == expected.keys(), name  # NaN updates are left out
            np.testing.assert_allclose(
                [scalars[name][s] for s in expected], list(expected.values()), rtol=1e-6
            )


def tensorboard_points(folder: Path, honour_restarts: bool = True) -> dict[str, dict[int, list]]:
    """tag -> {step: [values]} as TensorBoard shows them: files in name (creation) order, and
    (if `honour_restarts`) a session-start event at step T hides every earlier event at step >= T."""
    from tensorboardX.proto.event_pb2 import SessionLog

    out: dict[str, dict[int, list]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in read_events(path):
            restart = event.HasField("session_log") and event.session_log.status == SessionLog.START
            if restart and honour_restarts:
                for points in out.values():
                    for step in [s for s in points if s >= event.step]:
                        del points[step]
            for value in event.summary.value:
                out.setdefault(value.tag, {}).setdefault(event.step, []).append(value.simple_value)
    return out


def test_tensorboard_resume_hides_what_the_interrupted_run_logged_past_its_checkpoint(tmp_path):
    config = PPOConfig(num_envs=1, num_steps=128)  # batch 128, as in _fake_metrics
    first = TensorBoardWriter(tmp_path)
    first.on_start(config, np.array([3]), 0)
    first.on_chunk(_fake_metrics(num_seeds=1, k=5), None)  # updates 1-5; update 3 was saved
    first.on_end(None)
    resumed = TensorBoardWriter(tmp_path)
    resumed.on_start(config, np.array([3]), 3)
    again = _fake_metrics(num_seeds=1, k=4, start=3)  # updates 4-7, values unlike the first's
    resumed.on_chunk(again, None)
    resumed.on_end(None)

    folder = tmp_path / "seed_3"
    assert len(list(folder.glob("events.out.tfevents.*"))) == 2
    shown = tensorboard_points(folder)
    assert shown["update"] == {128 * u: [float(u)] for u in range(1, 8)}
    np.testing.assert_allclose(
        [shown["approx_kl"][128 * u] for u in range(4, 8)], again["approx_kl"].T
    )
    # Without the restart marker, updates 4 and 5 would be drawn twice.
    raw = tensorboard_points(folder, honour_restarts=False)["update"]
    assert [len(raw[128 * u]) for u in range(1, 8)] == [1, 1, 1, 2, 2, 1, 1]


def test_tensorboard_writer_closes_files_on_end(tmp_path):
    writer = TensorBoardWriter(tmp_path)
    writer.on_start(None, np.array([3]), 0)
    writer.on_chunk(_fake_metrics(num_seeds=1), None)
    writer.on_end(None)
    assert writer._writers == []
    scalars = tensorboard_scalars(tmp_path / "seed_3")
    assert sorted(scalars["update"].items()) == [(128, 1.0), (256, 2.0), (384, 3.0)]


class FakeRun:
    def __init__(self, **kwargs):
        self.kwargs, self.logged, self.finished, self.metrics = kwargs, [], None, []

    def define_metric(self, name, **kwargs):
        self.metrics.append((name, kwargs))

    def log(self, row, step):
        self.logged.append((step, row))

    def finish(self, exit_code=0):
        self.finished = exit_code


def test_wandb_writer_logic_with_a_stand_in_module(monkeypatch):
    """Runs per seed, names, group, steps, NaN left out, finish: without wandb installed."""
    runs = []
    fake = types.SimpleNamespace(init=lambda **kw: runs.append(FakeRun(**kw)) or runs[-1])
    monkeypatch.setitem(sys.modules, "wandb", fake)
    writer = WandbWriter("exp1", {"lr": 0.1}, project="proj", dir=None)
    writer.on_start(None, np.array([4, 5]), start_update=0)
    metrics = _fake_metrics()
    writer.on_chunk(metrics, None)
    writer.on_end(types.SimpleNamespace(completed=False))
    assert [r.kwargs["name"] for r in runs] == ["exp1-seed4", "exp1-seed5"]
    assert {r.kwargs["group"] for r in runs} == {"exp1"} and runs[1].kwargs["config"]["seed"] == 5
    assert [step for step, _ in runs[0].logged] == [1, 2, 3]
    assert "episode_return" not in runs[0].logged[1][1]  # the NaN update
    assert runs[1].logged[1][1]["episode_return"] == pytest.approx(metrics["episode_return"][1, 1])
    assert (
        runs[0].logged[2][1]["env_steps"] == 384
        and ("*", {"step_metric": "env_steps"}) in runs[0].metrics
    )
    assert [r.finished for r in runs] == [1, 1] and writer.runs == []


def read_wandb_records(path: Path) -> list:
    """Parses a .wandb file: a 7-byte header, then LevelDB-style blocks of 32 KiB holding
    records [crc u32][length u16][type u8][data] (types 1 full, 2 first, 3 middle, 4 last)."""
    from wandb.proto.wandb_internal_pb2 import Record

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, at, pending = [], 7, b""
    while at + 7 <= len(data):
        if 32768 - at % 32768 < 7:  # block trailer too short for a header: padding
            at += 32768 - at % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[at : at + 7])
        chunk, at = data[at + 7 : at + 7 + length], at + 7 + length
        if kind == 0:
            continue
        pending += chunk
        if kind in (1, 4):
            records.append(Record.FromString(pending))
            pending = b""
    return records


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


def test_wandb_offline_run_folders_hold_the_metrics(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    writer = WandbWriter("tiny-run", {"env_id": tiny_config.env_id}, project="purejaxppo-test")
    result = train_chunked(tiny_config, SEEDS, FIRST_SEED, chunk_updates=CHUNK, callbacks=[writer])
    import wandb

    wandb.teardown()  # as at process exit: the W&B service writes out what it still holds
    folders = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(folders) == SEEDS
    found = {}
    for folder in folders:
        records = read_wandb_records(next(folder.glob("run-*.wandb")))
        run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
        assert run.run_group == "tiny-run"
        history = {}
        for r in records:
            if r.WhichOneof("record_type") == "history":
                row = {_key(item): json.loads(item.value_json) for item in r.history.item}
                history[row["update"]] = row
        found[run.display_name] = history
    assert sorted(found) == [f"tiny-run-seed{s}" for s in result.seeds]
    for i, seed in enumerate(result.seeds):
        history = found[f"tiny-run-seed{seed}"]
        assert sorted(history) == list(range(1, tiny_config.num_updates + 1))
        for u in history:
            assert history[u]["env_steps"] == result.metrics["env_steps"][i, u - 1]
            ret = result.metrics["episode_return"][i, u - 1]
            if math.isnan(ret):
                assert "episode_return" not in history[u]
            else:
                assert history[u]["episode_return"] == pytest.approx(float(ret), rel=1e-6)


def _args(log: str) -> argparse.Namespace:
    return argparse.Namespace(log=log, wandb_project=None, wandb_entity=None)


def test_log_option_parsing_and_callbacks(tmp_path, tiny_config):
    assert train_logging.parse_writers("csv, tensorboard,csv") == ["csv", "tensorboard"]
    with pytest.raises(ConfigError, match="did you mean tensorboard"):
        train_logging.check_arguments(_args("csv,tensorbord"))
    with pytest.raises(ConfigError, match="at least one writer"):
        train_logging.check_arguments(_args(" , "))
    made = train_logging.make_callbacks(_args("csv,jsonl,tensorboard,wandb"), tmp_path, tiny_config)
    assert [type(c).__name__ for c in made] == [
        "CsvWriter",
        "JsonlWriter",
        "TensorBoardWriter",
        "WandbWriter",
    ]
    assert made[2].root == tmp_path / "tb" and made[3].name == tmp_path.name


@pytest.mark.parametrize("log, module", [("tensorboard", "tensorboardX"), ("wandb", "wandb")])
def test_missing_extra_is_a_config_error(monkeypatch, log, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes the import (and find_spec) fail
    with pytest.raises(ConfigError, match=rf"pip install 'purejaxppo\[{log}\]'"):
        train_logging.check_arguments(_args(f"csv,{log}"))
    writer = TensorBoardWriter("x") if log == "tensorboard" else WandbWriter("x", {})
    with pytest.raises(ConfigError, match="pip install"):
        writer.on_start(None, np.array([0]), 0)
