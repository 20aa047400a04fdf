"""MinAtar PPO against a peer: purejaxppo's shipped MinAtar config and PureJaxRL's `ppo.py` with
its own published MinAtar setting (`examples/brax_minatar.ipynb`), the same env, seed count,
budget and seed keys, in one process: final return (mean, std, IQM, 95% bootstrap interval) and
env steps/s side by side.

Usage: python benchmarks/peer_purejaxrl_ppo.py --purejaxrl PATH [--config breakout_minatar]
       [--seeds 4] [--steps N] [--repeats 1] [--quick] [--only ours|purejaxrl]

PATH is a checkout of luchris429/purejaxrl; its `ppo.py` and `wrappers.py` are imported from
there at run time, never copied here, with `peer_purejaxrl_rnn.load_purejaxrl_script`: gymnax
1.0's six-value `step` is seen through `FiveValueStep` (done = terminated | truncated, `info`
without the keys gymnax 1.0 added), and placeholder brax/navix modules stand in while
`wrappers.py` is imported. Nothing in its algorithm or its setting is changed.

Unlike `peer_purejaxrl_rnn.py`, the two sides do not share hyperparameters: each runs the
setting its authors ship for MinAtar. `--steps` sets the budget of both; `--quick` is a smoke test
(8 updates, 1 seed).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from common import figures_note, fmt, hardware_label, markdown_table, write_results
from peer_purejaxrl_rnn import checkout_commit, figure, load_purejaxrl_script, measure

import purejaxppo  # sets the XLA CPU flag before JAX starts its backend
from purejaxppo.config import PPOConfig
from purejaxppo.sweep_results import bootstrap_ci, iqm

# PureJaxRL's MinAtar setting, as `examples/brax_minatar.ipynb` gives it (its network is ppo.py's
# hard-coded 64x64 actor and critic MLPs; ACTIVATION picks relu).
PUREJAXRL_MINATAR = {
    "LR": 5e-3,
    "NUM_ENVS": 64,
    "NUM_STEPS": 128,
    "UPDATE_EPOCHS": 4,
    "NUM_MINIBATCHES": 8,
    "GAMMA": 0.99,
    "GAE_LAMBDA": 0.95,
    "CLIP_EPS": 0.2,
    "ENT_COEF": 0.01,
    "VF_COEF": 0.5,
    "MAX_GRAD_NORM": 0.5,
    "ACTIVATION": "relu",
    "ANNEAL_LR": True,
}
PUREJAXRL_WIDTH = 64


def purejaxrl_setting(env_id: str, env_steps: int) -> dict[str, Any]:
    """PureJaxRL's MinAtar config dict for `env_id` at `env_steps` per seed (a new dict)."""
    return {**PUREJAXRL_MINATAR, "ENV_NAME": env_id, "TOTAL_TIMESTEPS": env_steps, "DEBUG": False}


def shared_settings(config: PPOConfig) -> dict[str, tuple[Any, Any]]:
    """(ours, PureJaxRL's) value of every setting both sides have, by our name; value
    clipping is always on in ppo.py."""
    h, p = config.hparams, PUREJAXRL_MINATAR
    return {
        "lr": (f"{h.lr:g}", f"{p['LR']:g}"),
        "ent": (f"{h.ent_coef:g}", f"{p['ENT_COEF']:g}"),
        "gamma": (f"{h.gamma:g}", f"{p['GAMMA']:g}"),
        "value clip": ("on" if config.clip_value_loss else "off", "on"),
        "envs": (config.num_envs, p["NUM_ENVS"]),
        "steps per rollout": (config.num_steps, p["NUM_STEPS"]),
        "epochs": (config.update_epochs, p["UPDATE_EPOCHS"]),
        "minibatches": (config.num_minibatches, p["NUM_MINIBATCHES"]),
        "GAE lambda": (f"{h.gae_lambda:g}", f"{p['GAE_LAMBDA']:g}"),
        "clip": (f"{h.clip_eps:g}", f"{p['CLIP_EPS']:g}"),
        "vf": (f"{h.vf_coef:g}", f"{p['VF_COEF']:g}"),
        "grad norm": (f"{h.max_grad_norm:g}", f"{p['MAX_GRAD_NORM']:g}"),
        "LR annealing to 0": (
            "on" if config.anneal_lr else "off",
            "on" if p["ANNEAL_LR"] else "off",
        ),
    }


def differing(config: PPOConfig, side: str) -> list[tuple[str, Any]]:
    """(name, value) on `side` ("ours" or "purejaxrl") of the settings where the sides differ,
    lr and entropy always included (the setting column names them)."""
    pick = 0 if side == "ours" else 1
    return [
        (k, v[pick])
        for k, v in shared_settings(config).items()
        if v[0] != v[1] or k in ("lr", "ent")
    ]


def _summary(finals: np.ndarray | None) -> list[str]:
    """[mean ± std, IQM, 95% CI] cells for one side's per-seed final returns."""
    if finals is None:
        return ["-", "-", "-"]
    low, high = bootstrap_ci(finals)
    spread = f" ± {fmt(np.nanstd(finals))}" if finals.size > 1 else ""
    return [f"{fmt(np.nanmean(finals))}{spread}", fmt(iqm(finals)), f"[{fmt(low)}, {fmt(high)}]"]


def table(rows: list[dict[str, Any]], config: PPOConfig) -> str:
    """One line per side and seed count: return statistics, env steps/s, compile seconds."""
    headers = [
        "side",
        "setting",
        "seeds",
        "env steps / seed",
        "final return (mean ± std)",
        "IQM",
        "95% CI",
        "env steps/s",
        "compile s",
    ]
    ours = (
        f"`{config.env_id}` config: {list(config.hidden_sizes)} {config.activation}, "
        + ", ".join(f"{k} {v}" for k, v in differing(config, "ours"))
    )
    theirs = f"MinAtar setting: [{PUREJAXRL_WIDTH}, {PUREJAXRL_WIDTH}] relu, " + ", ".join(
        f"{k} {v}" for k, v in differing(config, "purejaxrl")
    )
    body = []
    for r in rows:
        for side, label, setting in (
            ("ours", "purejaxppo", ours),
            ("purejaxrl", "PureJaxRL ppo.py", theirs),
        ):
            body.append(
                [label, setting, r["seeds"], fmt(r["steps"] // r["seeds"])]
                + _summary(r[f"{side}_finals"])
                + [fmt(r[f"{side}_sps"]), fmt(r[f"{side}_compile"], 1)]
            )
    return markdown_table(headers, body)


def notes(config: PPOConfig, repeats: int, checkout: str) -> list[str]:
    """What was compared and how, for the results file."""
    return [
        figures_note(),
        f"PureJaxRL: `purejaxrl/ppo.py` imported at run time from `{checkout}` (commit "
        f"{checkout_commit(checkout)}; not copied), its `gymnax.make` returning gymnax 1.0 envs "
        "through `FiveValueStep` (done = terminated | truncated), placeholder brax/navix modules "
        "during the import of `wrappers.py`; its algorithm and setting unchanged.",
        f"Same env ({config.env_id}), {config.env_steps_per_run:,} env steps per seed (ours: "
        f"{config.num_updates} updates of {config.num_envs} envs x {config.num_steps} steps), "
        "the same seed keys, all seeds vmapped in one program per side. Each "
        "side runs its own MinAtar hyperparameters (the table's setting column); the remaining "
        "ones are equal ("
        + ", ".join(f"{k} {o}" for k, (o, t) in shared_settings(config).items() if o == t)
        + ").",
        "Other differences (design): ours bootstraps truncated episodes from the critic on the "
        "pre-reset observation; ppo.py treats truncation as termination. ppo.py returns every "
        "step's `info` as metrics; ours reduces them per update inside the program.",
        "Final return, both: per update the mean return of the episodes that ended in its "
        "rollout, then `purejaxppo.results.final_return` (mean over the last 10% of updates); "
        "IQM and 95% bootstrap interval over seeds as `purejaxppo sweep` reports them.",
        f"env steps/s: median of {repeats} timed call(s) per side after compiling, the sides "
        "interleaved in one process (order alternating); compile seconds excluded.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purejaxrl", help="a checkout of luchris429/purejaxrl")
    parser.add_argument("--config", default="breakout_minatar", help="purejaxppo MinAtar config")
    parser.add_argument("--seeds", nargs="+", type=int, default=[4])
    parser.add_argument("--steps", type=int, default=None, help="env steps per seed (config's)")
    parser.add_argument("--repeats", type=int, default=1, help="timed calls per side")
    parser.add_argument("--only", choices=("both", "ours", "purejaxrl"), default="both")
    parser.add_argument("--quick", action="store_true", help="smoke test: 8 updates, 1 seed")
    parser.add_argument("--name", default=None, help="results file name")
    args = parser.parse_args()
    if args.only != "ours" and not args.purejaxrl:
        parser.error("--purejaxrl PATH is needed unless --only ours")
    config = purejaxppo.load_config(args.config)
    if args.quick:
        args.steps, args.seeds = 8 * config.batch_size, [1]
    if args.steps is not None:
        config = config.replace(total_timesteps=args.steps)
    if config.env_steps_per_run % (PUREJAXRL_MINATAR["NUM_ENVS"] * PUREJAXRL_MINATAR["NUM_STEPS"]):
        raise SystemExit(
            f"config {args.config!r}: {config.env_steps_per_run} env steps per seed are no whole "
            "number of ppo.py's updates (64 envs x 128 steps)"
        )
    name = args.name or ("peer_purejaxrl_ppo_quick" if args.quick else "peer_purejaxrl_ppo")
    module = load_purejaxrl_script(Path(args.purejaxrl), "ppo.py") if args.only != "ours" else None
    setting = purejaxrl_setting(config.env_id, config.env_steps_per_run)
    rows: list[dict[str, Any]] = []
    for num_seeds in args.seeds:
        rows.append(measure(config, module, num_seeds, args.repeats, args.only, setting))
        print(table(rows[-1:], config), flush=True)
        write_results(
            name,
            f"MinAtar PPO: purejaxppo vs PureJaxRL ppo.py ({hardware_label()})",
            table(rows, config),
            notes(config, args.repeats, args.purejaxrl or "-"),
            figure(
                rows,
                ("purejaxppo", "PureJaxRL ppo.py"),
                "MinAtar PPO: purejaxppo vs PureJaxRL ppo.py",
            ),
        )
    print(table(rows, config))


if __name__ == "__main__":
    main()
