"""Learning quality: every config in configs/ over 8 seeds; final return mean, std, IQM and 95%
bootstrap interval beside the config's reference return, the env steps and wall time until the
mean curve first reaches 90% of the reference, and one figure of all learning curves.

Usage: python benchmarks/learning_quality.py [--quick] [--configs cartpole acrobot] [--seeds 8]
       [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np
from common import RESULTS_DIR, fmt, markdown_table, write_results

import purejaxppo  # noqa: F401  (sets the XLA CPU flag before JAX starts)
from purejaxppo.loading import available_configs, load_config
from purejaxppo.parallel import train_seeds
from purejaxppo.results import FINAL_FRACTION, final_return
from purejaxppo.sweep_results import bootstrap_ci

QUICK_STEPS = 100_000  # --quick: env steps per seed (at least one update)
TARGET_FRACTION = 0.9  # "time to target": the mean curve first reaches this share of the target


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% of the sorted values (NaNs dropped)."""
    x = np.sort(x[~np.isnan(x)])
    if x.size == 0:
        return float("nan")
    lo, hi = int(np.floor(0.25 * x.size)), int(np.ceil(0.75 * x.size))
    return float(x[lo:hi].mean()) if hi > lo else float(x.mean())


def run(
    name: str, num_seeds: int, steps: int | None, seed: int = 0, overrides: list | None = None
) -> dict:
    """Trains one config (with `overrides`, "key=value" strings) over seeds `seed .. seed +
    num_seeds - 1` (at `steps` per seed, or its stated budget)."""
    config = load_config(name, overrides)
    stated = config.total_timesteps
    if steps is not None and steps < stated:
        config = config.replace(total_timesteps=max(steps, config.batch_size))
    result = train_seeds(config, num_seeds=num_seeds, seed=seed)
    finals = final_return(result.metrics["episode_return"])
    return {
        "config": name,
        "env_id": config.env_id,
        "steps": config.env_steps_per_run,
        "stated": stated,
        "reference": config.reference_return,
        "finals": finals,
        "curve_x": result.metrics["env_steps"][0],
        "curves": result.metrics["episode_return"],
        "seconds": result.run_seconds + result.compile_seconds,
        "compile_seconds": result.compile_seconds,
        "run_seconds": result.run_seconds,
    }


def time_to_target(row: dict) -> tuple[float | None, float | None, float | None]:
    """(target, env steps, wall s) at the first update whose mean return over seeds reaches
    `TARGET_FRACTION` of the reference (of the measured mean final return when the config has
    none); steps and seconds are None when it never does.

    Updates with no finished episode in some seed are averaged over the others. Wall seconds are
    the compile time plus the run time in proportion to the updates done: every update of one
    compiled program does the same work, so it takes the same time up to noise.
    """
    finals = row["finals"]
    base = row["reference"] if row["reference"] is not None else np.nanmean(finals)
    if base is None or not np.isfinite(base):
        return None, None, None
    target = TARGET_FRACTION * float(base)
    with np.errstate(all="ignore"):
        mean_curve = np.nanmean(row["curves"], axis=0)
    reached = np.flatnonzero(mean_curve >= target)
    if reached.size == 0:
        return target, None, None
    first = int(reached[0])
    updates = mean_curve.shape[0]
    seconds = row["compile_seconds"] + row["run_seconds"] * (first + 1) / updates
    return target, float(row["curve_x"][first]), seconds


def table(rows: list[dict]) -> str:
    """Markdown table of final returns beside the reference returns."""
    headers = [
        "config",
        "env",
        "env steps / seed",
        "budget",
        "seeds",
        "final mean",
        "final std",
        "final IQM",
        "95% CI",
        "reference",
        "90% target",
        "env steps to target",
        "wall s to target",
        "wall s",
    ]
    body = []
    for r in rows:
        f = r["finals"]
        budget = "full" if r["steps"] >= r["stated"] * 0.99 else f"quick ({r['stated']:.0e} stated)"
        low, high = bootstrap_ci(f)
        target, steps_to, seconds_to = time_to_target(r)
        body.append(
            [
                r["config"],
                r["env_id"],
                fmt(r["steps"]),
                budget,
                f.size,
                fmt(np.nanmean(f)),
                fmt(np.nanstd(f)),
                fmt(iqm(f)),
                f"[{fmt(low)}, {fmt(high)}]",
                fmt(r["reference"]),
                fmt(target),
                "not reached" if target is not None and steps_to is None else fmt(steps_to, 0),
                "not reached" if target is not None and seconds_to is None else fmt(seconds_to, 0),
                fmt(r["seconds"], 0),
            ]
        )
    return markdown_table(headers, body)


def write_curves(name: str, rows: list[dict], first_seed: int) -> None:
    """`results/<name>_curves.csv`: per config and update, the env steps and each seed's mean
    episode return (empty where the seed finished no episode), so that targets can be read off
    later without training again."""
    lines = []
    for r in rows:
        seeds = range(first_seed, first_seed + r["curves"].shape[0])
        if not lines:
            lines.append(",".join(["config", "env_steps", *(f"seed_{k}" for k in seeds)]))
        for x, returns in zip(r["curve_x"], r["curves"].T, strict=True):
            cells = ["" if np.isnan(v) else f"{v:.4g}" for v in returns]
            lines.append(",".join([r["config"], f"{int(x)}", *cells]))
    (RESULTS_DIR / f"{name}_curves.csv").write_text("\n".join(lines) + "\n")


def figure(rows: list[dict]):
    """One figure: a panel per config, mean episode return (median and IQR band over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(rows))
    nrows = -(-len(rows) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    for ax, r in zip(axes.flat, rows, strict=False):
        curves, x = r["curves"], r["curve_x"]
        for curve in curves:
            ax.plot(x, curve, color="tab:blue", alpha=0.25, lw=0.7)
        ax.plot(x, np.nanmedian(curves, axis=0), color="tab:blue", lw=1.8, label="median")
        if r["reference"] is not None:
            ax.axhline(r["reference"], color="tab:red", ls="--", lw=1, label="reference")
        ax.set_title(f"{r['env_id']} ({curves.shape[0]} seeds)", fontsize=9)
        ax.set_xlabel("env steps per seed", fontsize=8)
        ax.set_ylabel("episode return", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(rows) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=None, help="default: all in configs/")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="first seed (run i uses seed + i)")
    parser.add_argument("--quick", action="store_true", help="every config at --quick-steps")
    parser.add_argument(
        "--quick-configs",
        nargs="+",
        default=[],
        help="only these configs get the --quick budget; the others run at their stated budget",
    )
    parser.add_argument("--quick-steps", type=int, default=QUICK_STEPS, help="env steps per seed")
    parser.add_argument("--name", default="learning_quality", help="results file name")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override every config"
    )
    args = parser.parse_args()
    names = args.configs or [n for n in available_configs() if n != "defaults"]
    notes = [
        f"CPU run (no GPU). Seeds {args.seed}..{args.seed + args.seeds - 1} "
        "(`purejaxppo.parallel.train_seeds`, all seeds vmapped in one program).",
        f"final return = mean episode return over the last {FINAL_FRACTION:.0%} of updates "
        "(`purejaxppo.results.final_return`), per seed; mean, std and IQM over seeds.",
        "budget 'quick' rows ran fewer env steps than the config states, so they are far below "
        "the reference return, which is for the stated budget.",
        "wall s includes compile time.",
        "95% CI: percentile bootstrap interval of the mean over seeds (10,000 resamples, "
        "`purejaxppo.sweep_results.bootstrap_ci`).",
        f"90% target: {TARGET_FRACTION:.0%} of the reference return, or of the measured mean final "
        "return where the config has no reference; env steps and wall s to target: the first "
        "update at which the mean curve over seeds reaches it (wall s = compile + run time "
        "pro rata of updates).",
        f"Curves (each seed's return per update): `{args.name}_curves.csv` beside this file.",
    ]
    rows = []
    for name in names:
        quick = args.quick or name in args.quick_configs
        rows.append(run(name, args.seeds, args.quick_steps if quick else None, args.seed, args.set))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
        # written after every config, so an interrupted run still leaves a complete file
        write_results(args.name, "Learning quality (CPU)", table(rows), notes, figure(rows))
        write_curves(args.name, rows, args.seed)
    print(table(rows))


if __name__ == "__main__":
    main()
