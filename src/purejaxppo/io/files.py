"""Whole-file writes (temp file + rename) and the files of a run folder."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

METRICS_FILE = "metrics.csv"
CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
CURVE_FILE = "learning_curve.png"

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Writes `data` to `path` so that readers see the old file or the whole new one, never part.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_config_yaml(path: str | Path, config_dict: Mapping[str, Any]) -> Path:
    """Writes a flat config dict as YAML, loadable again with `--config PATH`."""
    return atomic_write_text(path, yaml.safe_dump(dict(config_dict), sort_keys=False))


def metric_columns(metrics: Mapping[str, np.ndarray]) -> list[str]:
    """CSV header: seed, update, env_steps, then every other metric in `metrics`' order."""
    return ["seed", "update", "env_steps", *(n for n in metrics if n != "env_steps")]


def metrics_csv_text(
    metrics: Mapping[str, np.ndarray], seeds: np.ndarray, first_update: int = 1, header: bool = True
) -> str:
    """CSV text with one row per (seed, update): seed, update, env_steps, then every metric.

    Args:
        metrics: name -> `[seeds, updates]` arrays (must include `env_steps`).
        seeds: `[seeds]` seed of each row block.
        first_update: the 1-based update number of column 0 (for chunks of a longer run).
        header: whether to start with the header line.
    """
    names = metric_columns(metrics)[3:]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(metric_columns(metrics))
    num_seeds, num_updates = metrics["env_steps"].shape
    columns = [np.asarray(metrics[n]) for n in names]
    for s in range(num_seeds):
        for u in range(num_updates):
            row = [int(seeds[s]), first_update + u, int(metrics["env_steps"][s, u])]
            row += [_cell(c[s, u]) for c in columns]
            writer.writerow(row)
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if np.issubdtype(np.asarray(value).dtype, np.integer):
        return str(int(value))
    value = float(value)
    return "" if np.isnan(value) else repr(value)


def write_json(path: str | Path, data: Mapping[str, Any]) -> Path:
    """Writes `data` as indented JSON."""
    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def read_metrics_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Reads a `metrics.csv` back into name -> `[seeds, updates]` float arrays (NaN for blanks)."""
    with open(path, newline="") as handle:
        text = handle.read()
    if not text.endswith("\n"):  # a line cut short by a crash mid-append is dropped
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        return {}
    seeds = sorted({int(r["seed"]) for r in rows})
    num_updates = max(int(r["update"]) for r in rows)
    out = {name: np.full((len(seeds), num_updates), np.nan) for name in rows[0]}
    index = {s: i for i, s in enumerate(seeds)}
    for r in rows:
        i, u = index[int(r["seed"])], int(r["update"]) - 1
        for name, value in r.items():
            out[name][i, u] = float(value) if value != "" else np.nan
    return out


def truncate_metrics(out: Path, update: int) -> None:
    """Drops the rows past `update` (and a line cut short) from the run's metrics.csv and
    metrics.jsonl, atomically, so a resumed run appends without duplicates."""
    for name in (METRICS_FILE, "metrics.jsonl"):
        path = out / name
        text = path.read_text() if path.is_file() else ""
        lines = text[: text.rfind("\n") + 1].splitlines(keepends=True)
        if name == METRICS_FILE and lines:
            col = lines[0].rstrip("\n").split(",").index("update")
            lines = lines[:1] + [ln for ln in lines[1:] if int(ln.split(",")[col]) <= update]
        else:
            lines = [ln for ln in lines if json.loads(ln)["update"] <= update]
        if path.is_file():
            atomic_write_text(path, "".join(lines))
