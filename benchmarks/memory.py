"""Peak memory and env steps/s of CartPole training: by vmapped seeds, and by env steps for one seed.

Each case runs in its own fresh Python subprocess; its peak RSS is read with
`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` by a one-case parent, so cases cannot inherit
each other's peak. On a GPU the child also reports the device's peak bytes in use (JAX's
`memory_stats()`, with preallocation turned off). Usage: python benchmarks/memory.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys

from common import bar_panels, figures_note, fmt, hardware_label, markdown_table, write_results

SEEDS_CASES = [1, 16, 64, 256, 512, 1024]
SEEDS_STEPS = 5_120  # env steps per seed in the seed cases (10 updates of 512)
STEPS_CASES = [100_000, 1_000_000, 10_000_000]


ONE_CORE_VARIABLE = "PUREJAXPPO_BENCH_ONE_CORE"


def child(config_name: str, seeds: int, steps: int) -> None:
    """Runs one training case (prints a JSON line with what ran). Executed in a subprocess."""
    if os.environ.get(ONE_CORE_VARIABLE) == "1":
        # Before JAX starts its CPU client, so its thread pools are sized for one core.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import purejaxppo  # noqa: F401
    from purejaxppo.loading import load_config
    from purejaxppo.parallel import train_seeds

    config = load_config(config_name)
    config = config.replace(total_timesteps=steps)
    result = train_seeds(config, num_seeds=seeds)
    import jax

    stats = jax.devices()[0].memory_stats() if jax.default_backend() != "cpu" else None
    device_peak = stats.get("peak_bytes_in_use") if stats else None
    print(
        json.dumps(
            {
                "updates": config.num_updates,
                "steps_per_seed": config.env_steps_per_run,
                "run_seconds": result.run_seconds,
                "metric_bytes": sum(v.nbytes for v in result.metrics.values()),
                "device_peak_bytes": device_peak,
            }
        )
    )


# Run by the one-case parent: starts the case, watches its CPU time, and reports either its peak
# RSS or that it hung (under 1 s of CPU in the last HANG_SECONDS: the jaxlib 0.10 CPU hang, in
# which idle pool threads still wake now and then, so "no ticks at all" never happens).
_PARENT = """
import collections, json, os, resource, subprocess, sys, time
window = float(sys.argv[1])
tick = os.sysconf("SC_CLK_TCK")
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
def cpu_seconds():
    try:
        fields = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick
    except (OSError, IndexError):
        return None
samples = collections.deque()
while p.poll() is None:
    time.sleep(2)
    now, cpu = time.monotonic(), cpu_seconds()
    if cpu is None:
        continue
    samples.append((now, cpu))
    while samples and now - samples[0][0] > window:
        samples.popleft()
    if now - samples[0][0] >= window - 2 and cpu - samples[0][1] < 1.0:
        p.kill()
        sys.exit(f"hung: under 1 s of CPU in {window:.0f} s")
out, err = p.communicate()
if p.returncode:
    sys.exit(err[-2000:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"peak_kib": peak, "child": json.loads(out.strip().splitlines()[-1])}))
"""
HANG_SECONDS = 60


def measure_peak(
    config_name: str,
    seeds: int,
    steps: int,
    timeout: float = 900,
    one_core: bool = False,
    hang_seconds: float = HANG_SECONDS,
) -> dict:
    """Runs one case in a fresh grandchild process; returns its report and peak RSS in MiB,
    or `{"error": ...}` if it failed, hung (under 1 s of CPU in `hang_seconds`) or ran past
    `timeout` seconds. `one_core` pins the case to one CPU core before JAX starts. The report
    has `seeds`, `peak_mib`, `one_core`, and the child's `updates`, `steps_per_seed`,
    `run_seconds`, `metric_bytes` and `device_peak_bytes`."""
    cmd = [
        sys.executable,
        "-c",
        _PARENT,
        str(hang_seconds),
        sys.executable,
        __file__,
        "--child",
        config_name,
        str(seeds),
        str(steps),
    ]
    # Without this a GPU child would reserve most of the device up front.
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    if one_core:
        env[ONE_CORE_VARIABLE] = "1"
    # Its own session, so a timeout can kill the case's process too, not just its parent.
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": "timed out"}
    except KeyboardInterrupt:  # e.g. a time budget's SIGINT: leave no case running behind us
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    if proc.returncode:
        hung = "hung:" in stderr
        return {"error": f"hung (~0% CPU for {hang_seconds:.0f} s)" if hung else "failed"}
    report = json.loads(stdout.strip().splitlines()[-1])
    return {
        "seeds": seeds,
        "peak_mib": report["peak_kib"] / 1024,
        "one_core": one_core,
        **report["child"],
    }


def measure_case(seeds: int, steps: int, args: argparse.Namespace, on_gpu: bool) -> dict:
    """`measure_peak` of one CartPole case (printed as it ends). On CPU, a case that hangs runs
    again pinned to one core: the jaxlib 0.10 executor hang has not been seen with one thread
    per pool (docs/benchmarks.md, "The 256-seed hang")."""
    # On a GPU the host idles while the device runs the training loop: low CPU is no hang there.
    hang_seconds = args.timeout if on_gpu else HANG_SECONDS
    r = measure_peak("cartpole", seeds, steps, args.timeout, hang_seconds=hang_seconds)
    if not on_gpu and str(r.get("error", "")).startswith("hung"):
        print(f"{seeds} seeds x {steps:,} steps hung on all cores; again on one core", flush=True)
        r = measure_peak("cartpole", seeds, steps, args.timeout, one_core=True)
    print(seeds, "seeds,", steps, "steps:", r, flush=True)
    return r


def row(r: dict, *first: object, device: bool = False) -> list:
    """A table row for one case: the given leading cells, then peak MiB (host, and device if
    `device`), metrics KiB, run s."""
    if "error" in r:
        return [*first, f"{r['error']} (not measured)"] + ["-"] * (4 if device else 3)
    cells = [*first, fmt(r["peak_mib"], 0)]
    if device:
        cells.append(fmt((r["device_peak_bytes"] or 0) / 2**20, 1))
    steps_per_second = r["steps_per_seed"] * r["seeds"] / max(r["run_seconds"], 1e-9)
    return cells + [
        fmt(r["metric_bytes"] / 1024, 1),
        fmt(r["run_seconds"], 1),
        f"{steps_per_second:,.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="skip the 1e7-step case")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per case")
    parser.add_argument("--name", default="memory")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    import jax

    import purejaxppo  # noqa: F401  (before JAX starts: write_results uses its file writers)

    on_gpu = jax.default_backend() != "cpu"
    baseline = measure_peak("cartpole", 1, 512)  # one update: JAX + compile overhead
    print(f"baseline (1 update): {baseline['peak_mib']:.0f} MiB", flush=True)
    step_cases, seed_cases = [], []  # (table label, figure label, result)
    plan = (
        [  # (list the result joins, table label, figure label, seeds, env steps per seed)
            (step_cases, fmt(steps), f"{steps:.0e}".replace("+0", ""), 1, steps)
            for steps in (STEPS_CASES[:2] if args.quick else STEPS_CASES)
        ]
        + [(seed_cases, str(seeds), str(seeds), seeds, SEEDS_STEPS) for seeds in SEEDS_CASES]
    )
    for cases, label, short, seeds, steps in plan:
        cases.append((label, short, measure_case(seeds, steps, args, on_gpu)))
        body = write(args, baseline, step_cases, seed_cases, on_gpu)  # after every case
    print(body)


def write(
    args: argparse.Namespace, baseline: dict, step_cases: list, seed_cases: list, on_gpu: bool
) -> str:
    """Writes the tables, notes and figure of the cases measured so far; returns the tables."""
    pinned = [f"{label} env steps" for label, _, r in step_cases if r.get("one_core")]
    pinned += [f"{label} seeds" for label, _, r in seed_cases if r.get("one_core")]
    suffix = lambda r: " (one core)" if r.get("one_core") else ""  # noqa: E731
    step_rows = [
        row(r, label + suffix(r), r.get("updates", "-"), device=on_gpu)
        for label, _, r in step_cases
    ]
    seed_rows = [
        row(r, label + suffix(r), fmt(r.get("steps_per_seed", SEEDS_STEPS)), device=on_gpu)
        for label, _, r in seed_cases
    ]
    peaks = ["peak RSS (MiB)"] + (["device peak (MiB)"] if on_gpu else [])
    tail = [*peaks, "metrics (KiB)", "run s", "env steps/s"]
    by_seeds = markdown_table(["seeds", "env steps / seed", *tail], seed_rows)
    by_steps = markdown_table(["env steps (1 seed)", "updates", *tail], step_rows)
    body = f"### By vmapped seeds (CartPole-v1)\n\n{by_seeds}\n\n### By env steps\n\n{by_steps}"
    notes = [
        f"{figures_note()} Peak RSS of the whole process (Python, JAX, XLA compile and run), "
        "each case in a fresh subprocess (`ru_maxrss` of RUSAGE_CHILDREN)"
        + ("; device peak = `memory_stats()['peak_bytes_in_use']`." if on_gpu else "."),
        f"Baseline, one update of one seed: {baseline['peak_mib']:.0f} MiB; most of every figure "
        "is JAX/XLA itself.",
        "Metrics are one scalar per update (they grow by a few bytes per update); the rollout "
        "buffer is one update's batch, so peak memory does not grow with env steps.",
        f"Seed cases run {SEEDS_STEPS:,} env steps per seed (a reduced budget).",
        "A case that uses under 1 s of CPU in a minute is reported as hung and run again pinned "
        "to one core. Before the package drew its orthogonal initialisation one run at a time "
        "(docs/benchmarks.md, 'The 256-seed hang'), 256 vmapped seeds hung on two cores every "
        "time; a row marked '(one core)' would mean a hang has come back.",
    ]
    if pinned:
        notes.append(
            f"Ran on one core after hanging on all cores: {', '.join(pinned)}. "
            "Peak RSS is comparable with the other rows; run time is not."
        )
    fig = bar_panels(
        [
            {
                "labels": [short + suffix(r) for _, short, r in seed_cases],
                "series": {"peak RSS": [r.get("peak_mib") for _, _, r in seed_cases]},
                "ylabel": "MiB",
                "title": f"by vmapped seeds ({SEEDS_STEPS:,} env steps each)",
            },
            {
                "labels": [short + suffix(r) for _, short, r in step_cases],
                "series": {"peak RSS": [r.get("peak_mib") for _, _, r in step_cases]},
                "ylabel": "MiB",
                "title": "by env steps (1 seed)",
            },
        ],
        f"CartPole-v1 peak memory ({hardware_label()})",
    )
    write_results(args.name, f"Peak memory ({hardware_label()})", body, notes, fig)
    return body


if __name__ == "__main__":
    main()
