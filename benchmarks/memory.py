"""Peak resident memory of CartPole training: by vmapped seeds, and by env steps for one seed.

Each case runs in its own fresh Python subprocess; its peak RSS is read with
`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` by a one-case parent, so cases cannot inherit
each other's peak. Usage: python benchmarks/memory.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from common import fmt, markdown_table, write_results

SEEDS_CASES = [1, 16, 64, 256]
SEEDS_STEPS = 5_120  # env steps per seed in the seed cases (10 updates of 512)
STEPS_CASES = [100_000, 1_000_000, 10_000_000]


def child(config_name: str, seeds: int, steps: int) -> None:
    """Runs one training case (prints a JSON line with what ran). Executed in a subprocess."""
    import purejaxppo  # noqa: F401
    from purejaxppo.loading import load_config
    from purejaxppo.parallel import train_seeds

    config = load_config(config_name)
    config = config.replace(total_timesteps=steps)
    result = train_seeds(config, num_seeds=seeds)
    print(
        json.dumps(
            {
                "updates": config.num_updates,
                "steps_per_seed": config.env_steps_per_run,
                "run_seconds": result.run_seconds,
                "metric_bytes": sum(v.nbytes for v in result.metrics.values()),
            }
        )
    )


def measure_peak(config_name: str, seeds: int, steps: int, timeout: float = 900) -> dict:
    """Runs one case in a fresh grandchild process; returns its report and peak RSS in MiB
    (or `{"error": ...}` if it failed or ran past `timeout` seconds)."""
    code = (
        "import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "if p.returncode: sys.exit(p.stderr[-2000:])\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'peak_kib': peak, 'child': json.loads(p.stdout.strip().splitlines()[-1])}))\n"
    )
    cmd = [
        sys.executable,
        "-c",
        code,
        sys.executable,
        __file__,
        "--child",
        config_name,
        str(seeds),
        str(steps),
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=timeout)
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as err:
        return {"error": "timed out" if isinstance(err, subprocess.TimeoutExpired) else "failed"}
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return {"seeds": seeds, "peak_mib": report["peak_kib"] / 1024, **report["child"]}


def row(r: dict, *first: object) -> list:
    """A table row for one case: the given leading cells, then peak MiB, metrics KiB, run s."""
    if "error" in r:
        return [*first, f"{r['error']} (not measured)", "-", "-"]
    return [
        *first,
        fmt(r["peak_mib"], 0),
        fmt(r["metric_bytes"] / 1024, 1),
        fmt(r["run_seconds"], 1),
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
    baseline = measure_peak("cartpole", 1, 512)  # one update: JAX + compile overhead
    print(f"baseline (1 update): {baseline['peak_mib']:.0f} MiB", flush=True)
    seed_rows, step_rows = [], []
    for steps in STEPS_CASES[:2] if args.quick else STEPS_CASES:
        r = measure_peak("cartpole", 1, steps, args.timeout)
        step_rows.append(row(r, fmt(steps), r.get("updates", "-")))
        print(step_rows[-1], flush=True)
    for seeds in SEEDS_CASES:
        r = measure_peak("cartpole", seeds, SEEDS_STEPS, args.timeout)
        seed_rows.append(row(r, seeds, fmt(r.get("steps_per_seed", SEEDS_STEPS))))
        print(seed_rows[-1], flush=True)
    by_seeds = markdown_table(
        ["seeds", "env steps / seed", "peak RSS (MiB)", "metrics (KiB)", "run s"], seed_rows
    )
    by_steps = markdown_table(
        ["env steps (1 seed)", "updates", "peak RSS (MiB)", "metrics (KiB)", "run s"], step_rows
    )
    body = f"### By vmapped seeds (CartPole-v1)\n\n{by_seeds}\n\n### By env steps\n\n{by_steps}"
    print(body)
    notes = [
        "CPU run (no GPU). Peak RSS of the whole process (Python, JAX, XLA compile and run), each "
        "case in a fresh subprocess (`ru_maxrss` of RUSAGE_CHILDREN).",
        f"Baseline, one update of one seed: {baseline['peak_mib']:.0f} MiB; most of every figure "
        "is JAX/XLA itself.",
        "Metrics are one scalar per update (they grow by a few bytes per update); the rollout "
        "buffer is one update's batch, so peak memory does not grow with env steps.",
        f"Seed cases run {SEEDS_STEPS:,} env steps per seed (a reduced budget).",
    ]
    write_results(args.name, "Peak memory (CPU)", body, notes)


if __name__ == "__main__":
    main()
