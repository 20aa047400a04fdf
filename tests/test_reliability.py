"""Many seeds never hang, a stuck run is reported, and a stuck run can always be stopped.

Each test runs the CLI in a subprocess: a hang there cannot take the test worker with it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from purejaxppo.cli import main
from purejaxppo.io.checkpoint import CHECKPOINT_DIR, CheckpointStore
from purejaxppo.io.files import read_metrics_csv

TESTS = Path(__file__).parent
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "PUREJAXPPO_COMPILE_CACHE": "0"}
# 8 CartPole updates of 512 steps, one per chunk, a checkpoint after each.
SHORT = ["--set", "total_timesteps=2048"]  # 4 CartPole updates
SMALL = ["--set", "total_timesteps=4096", "--log-every", "1", "--checkpoint-every", "1", "--quiet"]


CLI = [sys.executable, "-m", "purejaxppo.cli"]


def _stuck_train(block_from: int, stall_seconds: float) -> list[str]:
    """`train` whose chunks from index `block_from` on never end, up to its `--out` value."""
    script = [sys.executable, str(TESTS / "stuck_train.py"), str(block_from), "train"]
    return [*script, *SMALL, "--stall-seconds", str(stall_seconds), "--out"]


def _run(args: list[str], timeout: float, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, capture_output=True, text=True, env=ENV, cwd=cwd, timeout=timeout, check=False
    )


@pytest.mark.timeout(400)
def test_256_vmapped_seeds_through_the_cli_finish(tmp_path):
    # Before the orthogonal-init fix this compiled, then sat at 0% CPU at update 0 forever.
    out = tmp_path / "run"
    done = _run(
        [*CLI, "train", "--seeds", "256", "--quiet", *SHORT, "--out", str(out)],
        timeout=360,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["seeds"]) == 256
    assert read_metrics_csv(out / "metrics.csv")["update"].shape == (256, 4)


@pytest.mark.timeout(300)
def test_sweep_with_two_runs_per_device_on_four_host_devices_finishes(tmp_path):
    script = textwrap.dedent(
        """
        import os
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
        import jax, numpy as np, purejaxppo as pj
        config = pj.load_config("cartpole", ["total_timesteps=2048"])
        result = pj.sweep(config, {"lr": [1e-4, 1e-3, 3e-3]}, num_seeds=2)
        assert jax.device_count() == 4
        print(np.asarray(result.final_returns).size, np.isfinite(result.final_returns).all())
        """
    )
    done = _run([sys.executable, "-c", script], timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["6", "True"]


@pytest.mark.timeout(300)
def test_a_stuck_chunk_is_reported_and_the_run_keeps_its_checkpoint_and_metrics(tmp_path):
    out = tmp_path / "run"
    start = time.monotonic()
    done = _run(
        [*_stuck_train(2, stall_seconds=3), str(out)],
        timeout=240,
        cwd=tmp_path,
    )
    assert done.returncode == 3, done.stderr[-2000:]
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "no progress for 3 s in update 3" in lines[0], done.stderr
    assert "--resume" in lines[0] and "Traceback" not in done.stderr
    assert time.monotonic() - start < 200
    _assert_resumable(out, done_updates=2)


def _assert_resumable(out: Path, done_updates: int) -> None:
    """The run folder holds whole metrics rows and a checkpoint of `done_updates` updates, and
    `train --resume` finishes it."""
    data = read_metrics_csv(out / "metrics.csv")
    np.testing.assert_array_equal(data["update"], [np.arange(1, done_updates + 1)])
    store = CheckpointStore(out / CHECKPOINT_DIR, create=False)
    try:
        assert store.read_meta()["num_seeds"] == 1
        assert max(int(p.name) for p in (out / CHECKPOINT_DIR).iterdir() if p.name.isdigit()) == (
            done_updates
        )
    finally:
        store.close()
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert read_metrics_csv(out / "metrics.csv")["update"].shape == (1, 8)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_second_signal_stops_a_stuck_run_at_once(tmp_path, signum, code):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [*_stuck_train(1, stall_seconds=600), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 200
        while not (out / "metrics.csv").is_file() and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        time.sleep(1.0)  # the second chunk, which never ends, is now being waited for
        process.send_signal(signum)
        time.sleep(1.0)
        assert process.poll() is None  # the graceful stop waits for a chunk that never ends
        process.send_signal(signum)
        sent = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        assert time.monotonic() - sent < 5
    finally:
        process.kill()
    assert process.returncode == code, stderr[-2000:]
    assert "exiting now" in stderr and "Traceback" not in stderr
    _assert_resumable(out, done_updates=1)


class _NeverReady:
    def is_ready(self) -> bool:
        return False


def test_wait_ready_returns_computed_arrays_and_reports_a_call_that_never_ends():
    import jax.numpy as jnp

    from purejaxppo.watchdog import StalledError, Watchdog, wait_ready

    tree = {"a": jnp.arange(3) * 2, "b": (jnp.ones(2), 5)}
    assert wait_ready(tree, Watchdog(floor_seconds=1)) is tree
    timed = Watchdog(floor_seconds=0.3, factor=10, cpu_rule=False)
    assert timed.limit(None) == 0.3 and timed.limit(1.0) == 10.0
    start = time.monotonic()
    with pytest.raises(StalledError, match=r"no progress for 0 s in the test call, expected"):
        wait_ready([_NeverReady()], timed, expected=0.01, what="the test call")
    assert 0.3 <= time.monotonic() - start < 5
    idle = Watchdog(floor_seconds=1e9, idle_seconds=0.3, cpu_rule=True)
    with pytest.raises(StalledError, match="~0% CPU"):
        wait_ready([_NeverReady()], idle, expected=None)


def test_a_busy_call_is_not_reported_as_idle():
    from purejaxppo.watchdog import Watchdog, wait_ready

    class BusyFor:
        def __init__(self, seconds):
            self.end = time.monotonic() + seconds

        def is_ready(self):
            while time.monotonic() < min(self.end, time.monotonic() + 0.05):
                pass  # burns CPU, as a running program does
            return time.monotonic() >= self.end

    wait_ready([BusyFor(1.5)], Watchdog(floor_seconds=1e9, idle_seconds=0.5, cpu_rule=True))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", *SHORT, "--out", "{file}/run"], "--out {file}/run: cannot create or write"),
        (
            ["sweep", *SHORT, "--grid", "lr=1e-3,1e-4", "--out", "{file}/s"],
            "--out {file}/s: cannot",
        ),
        (["plot", "{tmp}", "--out", "{file}/c.png"], "--out {file}/c.png: cannot create or write"),
        (["plot", "{tmp}", "--out", "{tmp}"], "use a .png"),
        (["render", "{tmp}", "--out", "{file}/e.gif"], "--out {file}/e.gif: cannot create"),
        (["train", "--resume", "{file}"], "is not a run folder"),
        (["train", *SHORT, "--config", "{tmp}/missing.yaml"], "not found"),
    ],
)
def test_a_path_that_cannot_be_used_is_one_error_line_before_anything_runs(
    tmp_path, capsys, argv, message
):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    fill = lambda s: s.format(file=blocker, tmp=tmp_path)  # noqa: E731
    assert main([fill(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and fill(message) in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # nothing was written


@pytest.mark.parametrize("shape", [(4, 64), (64, 64), (64, 2), (3, 3, 4, 16)])
def test_orthogonal_init_equals_jax_bit_for_bit_alone_and_under_nested_vmap(shape):
    import jax

    from purejaxppo.networks import orthogonal

    keys = jax.random.split(jax.random.PRNGKey(3), 6).reshape(2, 3, 2)
    ours, theirs = orthogonal(np.sqrt(2.0)), jax.nn.initializers.orthogonal(np.sqrt(2.0))
    np.testing.assert_array_equal(ours(keys[0, 0], shape), theirs(keys[0, 0], shape))
    nested = lambda init: jax.jit(jax.vmap(jax.vmap(lambda k: init(k, shape))))  # noqa: E731
    got = nested(ours)(keys)
    assert got.shape == (2, 3, *shape)
    np.testing.assert_array_equal(got, nested(theirs)(keys))
    # The deadlock needs a batched QR: under vmap, every QR left must be of one matrix.
    hlo = jax.jit(jax.vmap(lambda k: ours(k, shape))).lower(keys[0]).compile().as_text()
    qr_lines = [line for line in hlo.splitlines() if "geqrf" in line and "custom-call(" in line]
    assert qr_lines and all(" = (f32[3," not in line for line in qr_lines), qr_lines
    hlo = jax.jit(jax.vmap(lambda k: theirs(k, shape))).lower(keys[0]).compile().as_text()
    assert any(" = (f32[3," in ln for ln in hlo.splitlines() if "geqrf" in ln)  # the check works
