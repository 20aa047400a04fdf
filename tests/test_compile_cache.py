"""The persistent compilation cache: where it goes, how it is turned off, and that a cached
program gives the same bits as a freshly compiled one."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from purejaxppo.compile_cache import (
    CACHE_VARIABLE,
    DEFAULT_CACHE_DIR,
    compile_cache_dir,
    memoize_compiled,
)


@pytest.mark.parametrize("value", ["0", "off", "OFF", "false", "no"])
def test_the_variable_turns_the_cache_off(monkeypatch, value):
    monkeypatch.setenv(CACHE_VARIABLE, value)
    assert compile_cache_dir() is None


def test_default_and_custom_folders(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_VARIABLE, raising=False)
    assert compile_cache_dir() == DEFAULT_CACHE_DIR
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "c"))
    assert compile_cache_dir() == tmp_path / "c"


def test_memoize_compiled_builds_once_and_reports_zero_seconds_on_a_hit():
    calls = []

    @memoize_compiled
    def build(n):
        calls.append(n)
        return f"program {n}", 1.5

    assert build(3) == ("program 3", 1.5)
    assert build(3) == ("program 3", 0.0)  # from the memo: nothing compiled in this call
    assert build(4) == ("program 4", 1.5)
    assert calls == [3, 4]


def _train(out: Path, cache: Path) -> tuple[dict[str, list[str]], str]:
    """Runs `purejaxppo train` in a fresh process with `cache` as the compile cache; returns
    (metrics.csv as columns, stderr with JAX's compile-cache log lines)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "purejaxppo.cli",
            "train",
            "--quiet",
            "--out",
            str(out),
            "--set",
            "total_timesteps=2048",
            "--set",
            "num_steps=64",
        ],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            CACHE_VARIABLE: str(cache),
            "PYTHONWARNINGS": "ignore",
            "JAX_LOG_COMPILES": "1",  # logs each compile, and each persistent-cache hit
        },
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    return {key: [row[key] for row in rows] for key in rows[0]}, done.stderr


@pytest.mark.timeout(600)
def test_cli_fills_the_cache_and_a_cached_run_gives_the_same_bits(tmp_path):
    cache = tmp_path / "cache"
    first, _ = _train(tmp_path / "a", cache)
    entries = {p.name for p in cache.iterdir()}
    assert any(name.startswith("jit_chunk-") for name in entries), entries
    second, log = _train(tmp_path / "b", cache)
    # The second run loaded the training program from disk and learned exactly the same. (It may
    # add entries: a small program that compiled under the size threshold the first time can take
    # longer than it on a loaded machine the second time.)
    assert "Persistent compilation cache hit for 'jit_chunk'" in log, log[-2000:]
    assert entries <= {p.name for p in cache.iterdir()}
    assert first == second
