"""Cost of live progress and logging: chunked training with callbacks vs one `train_seeds` call.

Usage: python benchmarks/progress_overhead.py [--config cartpole] [--seeds 1 8] [--repeats 3]

Variants, timed interleaved (round-robin) and reported as medians:
- single: one `train_seeds` call (the whole run is one compiled program; no progress);
- chunked: `train_chunked` with the default chunk size, no callbacks (cost of chunking alone);
- bar+csv: what `purejaxppo train` does by default (progress bar + streamed metrics.csv);
- bar+csv+tb: the same plus TensorBoard event files (one per seed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import bar_panels, fmt, markdown_table, write_results

import purejaxppo  # noqa: F401  (sets the XLA CPU flag before JAX starts)
from purejaxppo.driver import default_chunk_updates, train_chunked
from purejaxppo.io.progress import ProgressBar
from purejaxppo.io.tensorboard import TensorBoardWriter
from purejaxppo.io.writers import CsvWriter
from purejaxppo.loading import load_config
from purejaxppo.parallel import train_seeds

VARIANTS = ("single", "chunked", "bar+csv", "bar+csv+tb")


class Timed:
    """Wraps a callback and adds the wall seconds its methods take to `spent[0]`."""

    def __init__(self, inner, spent: list[float]):
        self.inner, self.spent = inner, spent

    def __getattr__(self, method):
        handler = getattr(self.inner, method)

        def call(*args):
            start = time.perf_counter()
            handler(*args)
            self.spent[0] += time.perf_counter() - start

        return call


def run_variant(
    name: str, config, num_seeds: int, folder: Path, sink
) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of this process over all threads, wall seconds inside the
    callbacks) of one full training run of `config` (compiled already) in variant `name`."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.rglob("*"):
        if old.is_file():
            old.unlink()
    callbacks = []
    if name != "chunked":
        callbacks = [ProgressBar(file=sink), CsvWriter(folder / "metrics.csv")]
    if name == "bar+csv+tb":
        callbacks.append(TensorBoardWriter(folder / "tb"))
    spent = [0.0]
    start, cpu = time.perf_counter(), time.process_time()
    if name == "single":
        train_seeds(config, num_seeds)  # returns after the run (NumPy metrics)
    else:
        train_chunked(config, num_seeds, callbacks=[Timed(c, spent) for c in callbacks])
    return time.perf_counter() - start, time.process_time() - cpu, spent[0]


def measure(config, num_seeds: int, repeats: int, folder: Path) -> dict[str, tuple[float, ...]]:
    """Median (wall, CPU, in-callback) seconds per variant; one untimed warm run each compiles
    everything."""
    times: dict[str, list[tuple[float, float, float]]] = {v: [] for v in VARIANTS}
    with open(os.devnull, "w") as sink:
        for variant in VARIANTS:
            run_variant(variant, config, num_seeds, folder / variant, sink)
        for _ in range(repeats):
            for variant in VARIANTS:
                times[variant].append(
                    run_variant(variant, config, num_seeds, folder / variant, sink)
                )
    return {v: tuple(statistics.median(x) for x in zip(*t, strict=True)) for v, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cartpole")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = load_config(args.config)
    chunk = default_chunk_updates(config.num_updates)
    rows, hooks = [], []
    overhead: dict[str, list[float]] = {}  # "<n> seeds" -> wall-time overhead % per variant
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.seeds:
            t = measure(config, n, args.repeats, Path(tmp) / f"s{n}")
            steps = n * config.env_steps_per_run
            for kind, col in (("wall", 0), ("CPU", 1)):
                base = t["single"][col]
                percent = [100 * (t[v][col] / base - 1) for v in VARIANTS[1:]]
                rows.append(
                    [n, kind, fmt(steps / base, 0)]
                    + [f"{t[v][col]:.2f}" for v in VARIANTS]
                    + [f"{p:+.1f}%" for p in percent]
                )
                print(rows[-1], flush=True)
                if kind == "wall":
                    overhead[f"{n} seed{'s' if n > 1 else ''}"] = percent
            hooks.append(
                [n] + [f"{t[v][2]:.3f} s ({100 * t[v][2] / t[v][0]:.2f}%)" for v in VARIANTS[2:]]
            )
            print(hooks[-1], flush=True)
    headers = ["seeds", "time", "single: env steps/s"] + [f"{v} (s)" for v in VARIANTS]
    headers += [f"{v} vs single" for v in VARIANTS[1:]]
    body = (
        markdown_table(headers, rows) + "\n\nWall time spent inside the callbacks (median per run, "
    )
    body += "and its share of that run's wall time):\n\n"
    body += markdown_table(["seeds", *VARIANTS[2:]], hooks)
    notes = [
        f"{args.config}: {config.num_updates} updates of {config.batch_size} env steps per seed "
        f"(the full budget), chunked runs use the default {chunk} updates per chunk "
        f"({config.num_updates // chunk} chunks)",
        f"medians of {args.repeats} interleaved repetitions after one warm-up run each "
        "(compilation excluded): wall time, and CPU time of the process (all threads; less "
        "sensitive to the other jobs on this shared CPU); compare columns of one row",
        "single = one train_seeds call; chunked = train_chunked without callbacks; "
        "bar+csv = progress bar + streamed metrics.csv (what `purejaxppo train` does by default); "
        "bar+csv+tb = plus TensorBoard event files",
    ]
    fig = bar_panels(
        [
            {
                "labels": list(VARIANTS[1:]),
                "series": overhead,
                "ylabel": "wall time vs single call (%)",
                "title": f"{args.config}, full budget",
            }
        ],
        "Overhead of live progress and logging",
    )
    path = write_results(
        "progress_overhead", "Overhead of live progress and logging", body, notes, fig
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
