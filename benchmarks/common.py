"""Shared helpers for the benchmark scripts: machine description, timing, markdown tables, output files."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or `platform.processor()` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _gpu_description() -> str:
    """The GPU model, memory and driver as nvidia-smi reports them (or the JAX device kind)."""
    import subprocess

    import jax

    try:
        query = "--query-gpu=name,memory.total,driver_version"
        out = subprocess.run(
            ["nvidia-smi", query, "--format=csv,noheader"], capture_output=True, text=True
        )
        return out.stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return jax.devices()[0].device_kind


def machine_description() -> dict[str, Any]:
    """Where the numbers were measured: devices, CPU, cores, versions, load average, time."""
    import jax
    import jaxlib

    devices = jax.devices()
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "backend": jax.default_backend(),
        "devices": ", ".join(sorted({d.device_kind for d in devices})) + f" x{len(devices)}",
        "gpu": _gpu_description() if jax.default_backend() == "gpu" else "none",
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        # `taskset` and the like narrow this; the figures then come from fewer cores
        "cores_this_process_may_use": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "load_average_1_5_15min": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def hardware_label() -> str:
    """'CPU', or 'GPU: <device kind>' when JAX's default backend is a GPU (for titles and notes)."""
    import jax

    if jax.default_backend() == "cpu":
        return "CPU"
    return f"{jax.default_backend().upper()}: {jax.devices()[0].device_kind}"


def figures_note() -> str:
    """The first note of a results file: where its figures come from."""
    label = hardware_label()
    return "CPU figures (no GPU)." if label == "CPU" else f"{label} figures (not CPU)."


def machine_markdown(extra: dict[str, Any] | None = None) -> str:
    """The machine description (plus `extra` entries) as a markdown bullet list."""
    info = machine_description()
    info.update(extra or {})
    return "\n".join(f"- {key}: {value}" for key, value in info.items())


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of `fn` takes, waiting for JAX's asynchronous results."""
    import jax

    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def median_times(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved round-robin `repeats` times
    so that the shared machine's changing load affects every entry alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return {name: statistics.median(ts) for name, ts in times.items()}


def child_json(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 900) -> Any:
    """Runs `python *argv` in a fresh process and returns the JSON value on the last line it
    printed (a measurement free of this process's compiled programs and caches)."""
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=timeout,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def alternated(
    variants: Sequence[str], repeats: int, measure: Callable[[str], dict[str, float]]
) -> dict[str, dict[str, float]]:
    """`measure(variant)` `repeats` times per variant in the order A, B, A, B, ... (so drifts
    in the machine's load hit every variant alike); returns each variant's median per key."""
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for _ in range(repeats):
        for variant in variants:
            runs[variant].append(measure(variant))
            print(variant, runs[variant][-1], flush=True)
    return {
        v: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for v, rs in runs.items()
    }


def fmt(x: float | None, digits: int = 1) -> str:
    """A number for a table cell: thousands separators for big values, '-' for missing/NaN."""
    if x is None or x != x:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; cells are converted with `str`."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def bar_panels(panels: Sequence[dict[str, Any]], title: str = "") -> Any:
    """A figure of grouped bar charts side by side, one panel per dict.

    Each panel: `labels` (the x groups), `series` (name -> one value per label; None or NaN
    leaves a gap), `ylabel`, optional `title` and `log` (log-scale y). Returns the matplotlib
    Figure (for `write_results(..., figure=...)`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        labels, series = list(panel["labels"]), dict(panel["series"])
        width = 0.8 / max(1, len(series))
        x = np.arange(len(labels))
        for i, (name, values) in enumerate(series.items()):
            heights = [np.nan if v is None else float(v) for v in values]
            ax.bar(x + (i - (len(series) - 1) / 2) * width, heights, width, label=name)
        ax.set_xticks(
            x, labels, rotation=20 if max(map(len, map(str, labels)), default=0) > 8 else 0
        )
        ax.set_ylabel(panel["ylabel"])
        if panel.get("log"):
            ax.set_yscale("log")
        ax.set_title(panel.get("title", ""), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def write_results(
    name: str,
    title: str,
    body: str,
    notes: Sequence[str] = (),
    figure: Any | None = None,
    extra_machine: dict[str, Any] | None = None,
) -> Path:
    """Writes `benchmarks/results/<name>.md` (title, the command that made it, machine, notes,
    body) and, if `figure` (a matplotlib Figure) is given, `<name>.png` beside it.

    Returns:
        The markdown file's path.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join(
        [os.path.relpath(sys.argv[0], RESULTS_DIR.parent.parent)] + sys.argv[1:]
    )
    parts = [
        f"# {title}",
        "",
        f"Command: `{command}`",
        "",
        "Machine:",
        "",
        machine_markdown(extra_machine),
    ]
    if notes:
        parts += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    parts += ["", body, ""]
    # Imported here, not at the top: memory.py's child imports this module before it pins itself
    # to one core, and purejaxppo must not be imported before that.
    from purejaxppo.io.files import atomic_write_bytes, atomic_write_text

    if figure is not None:
        import io

        import matplotlib.pyplot as plt

        png = RESULTS_DIR / f"{name}.png"
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        atomic_write_bytes(png, buffer.getvalue())
        parts += [f"![{title}]({png.name})", ""]
    return atomic_write_text(RESULTS_DIR / f"{name}.md", "\n".join(parts))
