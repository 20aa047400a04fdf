"""How close to the rollout-only limit training could get on this machine: the update's bare
network work (forward + backward + SGD, nothing else) timed beside the limit and training.

Usage: python benchmarks/speed_ceiling.py [--config cartpole] [--seeds 1] [--repeats 7]

Each training update does a rollout (at least the limit's work) and the update's network
passes (at least the bare update's work), one after the other: the update needs the rollout's
data and the next rollout the updated parameters. So limit / (limit + bare update) bounds
train / limit from above for any implementation of the same maths (epochs, minibatches,
networks, float32) that XLA compiles on this machine. Compile times get a rougher floor: a
training program compiles everything the limit program does, and limit + bare update - init
estimates a program that does only the rollout and the bare update.
"""

from __future__ import annotations

import argparse
from typing import Any

import jax
import jax.numpy as jnp
from common import (
    bar_panels,
    figures_note,
    fmt,
    hardware_label,
    markdown_table,
    median_times,
    write_results,
)
from rollout_limit import make_rollout_limit
from throughput import compile_timed

import purejaxppo  # noqa: F401  (sets the XLA CPU flag before JAX starts)
from purejaxppo.config import Hyperparams, PPOConfig, hparams_as_float32
from purejaxppo.loading import load_config
from purejaxppo.parallel import seed_keys
from purejaxppo.train import make_train

TARGET_FRACTION = 0.60  # issue 6: training >= 60% of the rollout-only limit
TARGET_COMPILE_S = 6.0  # issue 6: compile time < 6 s


def make_bare_update(config: PPOConfig) -> Any:
    """Builds `bare(rng, hparams) -> []` float32: `config.num_updates` updates of only the
    network work an update cannot avoid.

    Each update is `update_epochs * num_minibatches` steps of: forward pass of the shipped
    actor-critic on `minibatch_size` observations, backward pass, and a plain SGD step (so each
    step depends on the last and XLA cannot hoist the work out of the loop). No loss terms
    beyond value + entropy sums, no Adam, no clipping, no shuffling or gathering, no metrics.
    The observations are one fixed random batch. Returns a checksum of the final parameters.
    """
    train = make_train(config)
    apply_fn = train.network.apply
    steps = config.update_epochs * config.num_minibatches

    def objective(params: Any, obs: jax.Array) -> jax.Array:
        dist, value = apply_fn(params, obs)
        return value.sum() + dist.entropy().sum()

    def bare(rng: jax.Array, hparams: Hyperparams) -> jax.Array:
        state = train.init(rng, hparams)
        obs_shape = state.obs.shape[1:]
        obs = jax.random.normal(rng, (config.minibatch_size, *obs_shape))

        def sgd_step(params, _):
            grads = jax.grad(objective)(params, obs)
            return jax.tree.map(lambda p, g: p - 1e-6 * g, params, grads), None

        def update(params, _):
            return jax.lax.scan(sgd_step, params, None, length=steps)[0], None

        params, _ = jax.lax.scan(update, state.params, None, length=config.num_updates)
        return sum(jnp.sum(leaf) for leaf in jax.tree.leaves(params))

    return bare


def _is_numeric(leaf: jax.Array) -> bool:
    return not jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def make_init_only(config: PPOConfig) -> Any:
    """Builds `init(rng, hparams) -> []` float32: training's initialisation alone (network,
    optimizer, environments, statistics), reduced to a checksum. Its compile time is the part
    that the limit and the bare update programs both contain."""
    train = make_train(config)

    def init(rng: jax.Array, hparams: Hyperparams) -> jax.Array:
        state = train.init(rng, hparams)
        leaves = jax.tree.leaves(state)
        return sum(jnp.sum(leaf.astype(jnp.float32)) for leaf in leaves if _is_numeric(leaf))

    return init


def measure(name: str, num_seeds: int, updates: int, repeats: int) -> dict:
    """Per-update times and compile times of training, the limit and the bare update."""
    base = load_config(name)
    config = base.replace(total_timesteps=updates * base.batch_size)
    hp = hparams_as_float32(config.hparams)
    keys = seed_keys(0, num_seeds)
    # One untimed compile first: JAX's and XLA's one-off start-up (backend, LLVM, LAPACK
    # kernels) would otherwise be charged to whichever program comes first.
    compile_timed(jax.vmap(make_init_only(config), in_axes=(0, None)), keys, hp)
    builders = {
        "init": make_init_only,
        "limit": make_rollout_limit,
        "bare": make_bare_update,
        "train": make_train,
    }
    programs, compile_s = {}, {}
    for key, build in builders.items():
        programs[key], compile_s[key] = compile_timed(
            jax.vmap(build(config), in_axes=(0, None)), keys, hp
        )
        jax.block_until_ready(programs[key](keys, hp))  # warm call, untimed
    timed = {k: (lambda fn=programs[k]: fn(keys, hp)) for k in ("limit", "bare", "train")}
    times = median_times(timed, repeats)
    per_update_ms = {k: 1000 * t / config.num_updates for k, t in times.items()}
    return {
        "config": name,
        "seeds": num_seeds,
        "updates": config.num_updates,
        "ms": per_update_ms,
        "compile": compile_s,
        "fraction": times["limit"] / times["train"],
        "ceiling": times["limit"] / (times["limit"] + times["bare"]),
        "compile_floor": compile_s["limit"] + compile_s["bare"] - compile_s["init"],
    }


def tables(row: dict) -> str:
    """Two markdown tables: per-update times with the fractions, and compile times."""
    ms, compile_s = row["ms"], row["compile"]
    times = markdown_table(
        ["program", "ms per update", "compile (s)"],
        [
            ["initialisation only", "-", fmt(compile_s["init"], 2)],
            ["rollout-only limit", fmt(ms["limit"], 2), fmt(compile_s["limit"], 2)],
            [
                "bare update (forward + backward + SGD)",
                fmt(ms["bare"], 2),
                fmt(compile_s["bare"], 2),
            ],
            ["training (purejaxppo)", fmt(ms["train"], 2), fmt(compile_s["train"], 2)],
        ],
    )
    fractions = markdown_table(
        ["quantity", "value", "target"],
        [
            ["train / limit (measured)", f"{row['fraction']:.0%}", f">= {TARGET_FRACTION:.0%}"],
            [
                "limit / (limit + bare update): the most train / limit can be",
                f"{row['ceiling']:.0%}",
                f">= {TARGET_FRACTION:.0%}",
            ],
            [
                "compile of the limit program (training compiles all of it)",
                f"{compile_s['limit']:.1f} s",
                f"< {TARGET_COMPILE_S:.0f} s",
            ],
            [
                "compile of limit + bare update - init (estimated floor for training)",
                f"{row['compile_floor']:.1f} s",
                f"< {TARGET_COMPILE_S:.0f} s",
            ],
            [
                "compile of training (measured)",
                f"{compile_s['train']:.1f} s",
                f"< {TARGET_COMPILE_S:.0f} s",
            ],
        ],
    )
    return f"{times}\n\n{fractions}"


def figure(row: dict):
    """Per-update time of each program, and the measured fraction beside the ceiling."""
    ms = row["ms"]
    return bar_panels(
        [
            {
                "labels": ["limit", "bare update", "limit + bare", "training"],
                "series": {
                    "ms per update": [
                        ms["limit"],
                        ms["bare"],
                        ms["limit"] + ms["bare"],
                        ms["train"],
                    ]
                },
                "ylabel": "ms per update",
            },
            {
                "labels": ["train / limit", "ceiling", "target"],
                "series": {
                    "%": [100 * row["fraction"], 100 * row["ceiling"], 100 * TARGET_FRACTION]
                },
                "ylabel": "% of the rollout-only limit",
            },
        ],
        f"{row['config']} x{row['seeds']}: speed ceiling ({hardware_label()})",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cartpole")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--updates", type=int, default=100, help="updates per timed call")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls (median)")
    parser.add_argument("--name", default="speed_ceiling", help="results file name")
    args = parser.parse_args()
    row = measure(args.config, args.seeds, args.updates, args.repeats)
    body = tables(row)
    print(body)
    notes = [
        f"{figures_note()} {args.config}, {args.seeds} seed(s), {row['updates']} updates per "
        f"call; times are medians of {args.repeats} warm calls, the three programs interleaved "
        "in one process.",
        "bare update: per update, update_epochs x num_minibatches steps of the shipped "
        "actor-critic's forward and backward pass on one minibatch and a plain SGD step "
        "(benchmarks/speed_ceiling.py); no PPO loss, Adam, clipping, shuffling or metrics.",
        "Training does at least a rollout (the limit) and this bare update per update, in "
        "sequence, so limit / (limit + bare update) is an upper bound on train / limit for the "
        "same maths compiled by XLA on this machine.",
        "Compile = `jax.jit(...).lower(...).compile()` wall time, after an untimed compile of "
        "the initialisation has absorbed JAX's one-off start-up. Every program starts with "
        "training's initialisation; limit + bare update - init estimates the compile time of a "
        "program doing only a rollout and the bare update per update (compile times are not "
        "strictly additive, and move by about 1 s from process to process).",
    ]
    title = f"Speed ceiling: training vs rollout-only limit ({hardware_label()})"
    write_results(args.name, title, body, notes, figure(row))


if __name__ == "__main__":
    main()
