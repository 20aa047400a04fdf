"""Stop and resume through the CLI: a run stopped by SIGTERM after 2 of 4 chunks and resumed
ends with the same metrics.csv and the same final state as the uninterrupted run, bit for bit."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from purejaxppo.cli import main, train_logging
from purejaxppo.export import restore_run
from purejaxppo.io.files import read_metrics_csv
from test_eval import shared_run, train_args

pytestmark = [
    pytest.mark.timeout(300),
    # orbax leaves an asyncio callback behind when a corrupt checkpoint fails to restore
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _signal_after(chunks: int, signum: int):
    """A `make_callbacks` replacement that adds a callback raising `signum` after `chunks`."""
    make = train_logging.make_callbacks

    class Raise:
        done = 0

        def on_chunk(self, metrics, state):
            self.done += 1
            if self.done == chunks:
                signal.raise_signal(signum)

    return lambda *args: [*make(*args), Raise()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted 4-chunk run."""
    return shared_run(tmp_path_factory)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """The same run stopped by SIGTERM after its second chunk: (folder, exit code, stdout)."""
    out = tmp_path_factory.mktemp("stopped") / "run"
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(train_logging, "make_callbacks", _signal_after(2, signal.SIGTERM))
        code = main(train_args(out))
    return out, code, printed.getvalue()


def _copy(stopped, tmp_path) -> Path:
    return Path(shutil.copytree(stopped[0], tmp_path / "run"))


def _final_state(run: Path):
    return restore_run(run)[1]


def _assert_same_run(run: Path, reference: Path):
    ours, theirs = (read_metrics_csv(r / "metrics.csv") for r in (run, reference))
    assert ours.keys() == theirs.keys() and ours["update"].shape == (2, 288)
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    # resumed with the run's own chunk size, rows are even appended in the same order
    assert (run / "metrics.csv").read_bytes() == (reference / "metrics.csv").read_bytes()
    a, b = _final_state(run), _final_state(reference)
    assert a.step == b.step == 288
    for x, y in zip(jax.tree.leaves(a.state), jax.tree.leaves(b.state), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    finals = [
        json.loads((r / "summary.json").read_text())["final_returns"] for r in (run, reference)
    ]
    assert finals[0] == finals[1]


def test_sigterm_saves_a_checkpoint_and_prints_the_resume_command(stopped):
    out, code, printed = stopped
    assert code == 143  # 128 + SIGTERM, as shells report a process ended by it
    assert f"purejaxppo train --resume {out}" in printed
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["144", "72"]
    lines = (out / "metrics.csv").read_text().splitlines()
    assert len(lines) == 1 + 2 * 144 and not (out / "summary.json").exists()


def test_resume_equals_the_uninterrupted_run(stopped, reference, tmp_path, capsys):
    run = _copy(stopped, tmp_path)
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert "resuming" in capsys.readouterr().err
    _assert_same_run(run, reference)
    assert main(["train", "--resume", str(run), "--quiet"]) == 0  # already complete: no change
    _assert_same_run(run, reference)


def test_resume_skips_a_truncated_checkpoint(stopped, reference, tmp_path, capsys):
    """The newest checkpoint is cut short: it is named in a warning, the run resumes from the
    one before, drops the metrics rows after it, and still ends bit-identical."""
    run = _copy(stopped, tmp_path)
    files = [p for p in (run / "checkpoints" / "144").rglob("*") if p.is_file()]
    victim = max(files, key=lambda p: p.stat().st_size)
    victim.write_bytes(victim.read_bytes()[:100])
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"warning: checkpoint {run / 'checkpoints' / '144'}" in err and "at update 72" in err
    assert any(p.name.startswith("corrupt-144-") for p in (run / "checkpoints").iterdir())
    _assert_same_run(run, reference)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "num_envs=16"], "num_envs=16 but the run"),
        (["--config", "acrobot"], "env_id='Acrobot-v1' but the run"),
        (["--seeds", "3"], "--seeds 3 does not match"),
        (["--seed", "4"], "--seed 4 does not match"),
        (["--out", "elsewhere"], "--out cannot be combined with --resume"),
    ],
)
def test_a_mismatched_resume_is_refused(stopped, tmp_path, capsys, args, message):
    run = _copy(stopped, tmp_path)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert main(["train", "--resume", str(run), "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1], err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err


_PACED = """
import sys, time
from purejaxppo.cli import main, train_logging
make = train_logging.make_callbacks
class Pace:
    def on_chunk(self, metrics, state):
        print("chunk done", flush=True)
        time.sleep(1.0)
train_logging.make_callbacks = lambda *args: [*make(*args), Pace()]
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.timeout(400)
def test_sigterm_to_a_subprocess_then_resume_matches(reference, tmp_path):
    """A real `train` process gets SIGTERM after its first chunk: exit 143, a resume hint, and
    the resumed run equals the uninterrupted one."""
    out = tmp_path / "run"
    script = tmp_path / "paced_train.py"
    script.write_text(_PACED)
    with subprocess.Popen(
        [sys.executable, str(script), *train_args(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("chunk done"):
                process.send_signal(signal.SIGTERM)
                break
        lines += process.stdout.readlines()
        assert process.wait(timeout=300) == 143, "".join(lines)  # 128 + SIGTERM
    text = "".join(lines)
    assert "SIGTERM: finishing the current chunk" in text
    assert f"purejaxppo train --resume {out}" in text and "Traceback" not in text
    assert (out / "checkpoints" / "72").is_dir()
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    _assert_same_run(out, reference)
