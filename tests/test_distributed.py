"""Distributed runs with real processes on 127.0.0.1 (JAX's CPU collectives over gloo): a sweep
and a training run over two processes, resume after SIGINT, a killed process, an unreachable
coordinator, mismatched commands, and the docs' SLURM command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from purejaxppo.cli import main
from purejaxppo.config import ConfigError
from purejaxppo.distributed import parse_address

pytestmark = pytest.mark.timeout(600)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "distributed.md"
TINY = ["--config", "cartpole", "--set", "total_timesteps=4096", "--set", "num_envs=4", "--set", "num_steps=32", "--set", "num_minibatches=2", "--set", "update_epochs=2", "--quiet"]  # fmt: skip
# The command of docs/distributed.md's SLURM example, which runs it under srun; here the
# coordinator flags that srun's environment supplies there are given explicitly.
SWEEP = ("purejaxppo sweep --grid lr=1e-4,1e-3 --seeds 2 " + " ".join(TINY)).split()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from purejaxppo.cli import main; sys.exit(main())",
            *args]  # fmt: skip


def env(devices: int = 1) -> dict[str, str]:
    out = {**os.environ, "PYTHONUNBUFFERED": "1", "PUREJAXPPO_COMPILE_CACHE": "0"}
    if devices > 1:
        out["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return out


def start(args: list[str], port: int, cwd: Path, processes: int = 2) -> list[subprocess.Popen]:
    flags = ["--distributed", "--coordinator", f"127.0.0.1:{port}", "--num-processes",
             str(processes)]  # fmt: skip
    return [
        subprocess.Popen(
            cli(*args, *flags, "--process-id", str(i)),
            cwd=cwd,
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(processes)
    ]


def finish(procs: list[subprocess.Popen], timeout: float = 300) -> list[tuple[int, str]]:
    return [(p.wait(timeout), p.communicate()[1]) for p in procs]


@pytest.fixture(scope="module")
def two_process_sweep(tmp_path_factory):
    """The docs' sweep over two processes; process 1 is given another --out, which it must not
    create: process 0 alone writes."""
    folder = tmp_path_factory.mktemp("sweep")
    port = free_port()
    base = SWEEP[1:]
    flags = ["--distributed", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    procs = [
        subprocess.Popen(
            cli(*base, *flags, "--process-id", str(i), "--out", out),
            cwd=folder,
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i, out in enumerate(("a", "b"))
    ]
    return folder, finish(procs)


def test_two_processes_sweep_as_one_program_and_only_process_0_writes(two_process_sweep):
    folder, results = two_process_sweep
    assert [code for code, _ in results] == [0, 0], results
    assert not (folder / "b").exists()
    assert "process 1 of 2: process 0 writes the sweep folder b" in results[1][1]
    # one process with two devices runs the same sharded program: the same bits
    one = subprocess.run(cli(*SWEEP[1:], "--out", "one"), cwd=folder, env=env(2),
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert one.returncode == 0, one.stderr
    for name in ("metrics.csv", "results.csv"):
        assert (folder / "a" / name).read_text() == (folder / "one" / name).read_text(), name


def test_resume_after_sigint_to_both_equals_the_uninterrupted_run(tmp_path):
    train = ["train", *TINY, "--set", "total_timesteps=8192", "--seeds", "2",
             "--checkpoint-every", "8", "--log-every", "2"]  # fmt: skip
    whole = finish(start([*train, "--out", "whole"], free_port(), tmp_path))
    assert [code for code, _ in whole] == [0, 0], whole
    procs = start([*train, "--out", "cut"], free_port(), tmp_path)
    deadline = time.monotonic() + 240
    while not (tmp_path / "cut" / "checkpoints" / "16").is_dir() and time.monotonic() < deadline:
        time.sleep(0.1)
    for p in procs:
        p.send_signal(signal.SIGINT)
    stopped = finish(procs)
    assert [code for code, _ in stopped] == [130, 130], stopped
    resumed = finish(start(["train", "--resume", "cut", "--quiet"], free_port(), tmp_path))
    assert [code for code, _ in resumed] == [0, 0], resumed
    assert (tmp_path / "cut" / "metrics.csv").read_text() == (
        tmp_path / "whole" / "metrics.csv"
    ).read_text()


def test_a_killed_process_stops_the_survivor_naming_it(tmp_path):
    train = ["train", *TINY, "--set", "total_timesteps=400000", "--seeds", "2",
             "--checkpoint-every", "8", "--log-every", "2", "--peer-timeout", "5", "--out", "run"]  # fmt: skip
    procs = start(train, free_port(), tmp_path)
    deadline = time.monotonic() + 240
    while not (tmp_path / "run" / "checkpoints" / "16").is_dir() and time.monotonic() < deadline:
        time.sleep(0.1)
    procs[1].kill()
    killed = time.monotonic()
    code = procs[0].wait(timeout=120)
    elapsed = time.monotonic() - killed
    err = procs[0].communicate()[1]
    assert code == 4, err
    assert elapsed < 5 + 20
    assert "error: process 1 of this distributed run stopped responding" in err
    assert "Traceback" not in err


def test_an_unreachable_coordinator_is_exit_2_and_one_line_within_the_timeout(tmp_path):
    began = time.monotonic()
    out = subprocess.run(
        cli("train", *TINY, "--distributed", "--coordinator", f"127.0.0.1:{free_port()}",
            "--num-processes", "2", "--process-id", "1", "--coordinator-timeout", "3"),
        cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "could not reach the coordinator at 127.0.0.1:" in errors[0]
    assert time.monotonic() - began < 3 + 60  # the timeout plus starting Python and JAX


def test_mismatched_commands_are_refused_before_anything_is_written(tmp_path):
    port = free_port()
    flags = ["--distributed", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    procs = [
        subprocess.Popen(
            cli("train", *TINY, *extra, *flags, "--process-id", str(i), "--out", "r"),
            cwd=tmp_path,
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i, extra in enumerate(([], ["--set", "lr=1e-3"]))
    ]
    results = finish(procs)
    assert [code for code, _ in results] == [2, 2], results
    for _, err in results:
        assert "process 1's config, seeds, run folder or checkpoint differs from process 0's" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--coordinator", "127.0.0.1:1234"], "applies to a distributed run only"),
        (["train", "--distributed", "--coordinator", "127.0.0.1:1234"], "needs all of"),
        (["train", "--distributed"], "no cluster environment was detected"),
        (
            [
                "sweep",
                "--grid",
                "lr=1e-3",
                "--distributed",
                "--coordinator",
                "h:1",
                "--num-processes",
                "2",
                "--process-id",
                "2",
            ],
            "must lie in 0..1",
        ),  # fmt: skip
    ],
)
def test_bad_distributed_flags_are_one_line_and_exit_2(capsys, args, message):
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_coordinator_addresses_are_checked():
    assert parse_address("10.0.0.1:1234") == ("10.0.0.1", 1234)
    for bad in ("10.0.0.1", "host:port", ":80", "h:70000"):
        with pytest.raises(ConfigError, match="HOST:PORT"):
            parse_address(bad)


def test_the_docs_slurm_example_runs_the_tested_command():
    text = " ".join(DOCS.read_text().replace("\\\n", " ").split())
    assert f"srun {' '.join(SWEEP)} --distributed" in text
