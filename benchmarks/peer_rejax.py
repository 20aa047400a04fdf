"""Throughput against a peer: rejax's PPO on the same environment, batch shape, epochs and
minibatches, timed in the same process (interleaved), for the same numbers of vmapped seeds.

Usage: python benchmarks/peer_rejax.py [--configs cartpole] [--seeds 1 4 16 64]
Needs `pip install --no-deps rejax` (its own dependencies are already those of purejaxppo).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import jax
import jax.numpy as jnp
from common import bar_panels, fmt, markdown_table, median_times, write_results

import purejaxppo  # noqa: F401  (sets the XLA CPU flag before JAX starts)
from purejaxppo.config import PPOConfig, hparams_as_float32
from purejaxppo.loading import load_config
from purejaxppo.parallel import seed_keys
from purejaxppo.train import make_train

UPDATES = {
    "cartpole": {1: 100, 4: 50, 16: 20, 64: 8},
    "breakout_minatar": {1: 4, 4: 2, 16: 1, 64: 1},
}


class FiveValueStep:
    """Compatibility shim: gymnax >= 1.0 `step` returns (obs, state, reward, terminated,
    truncated, info); rejax 0.1.3 unpacks the old (obs, state, reward, done, info). This wrapper
    returns done = terminated | truncated and forwards everything else to the wrapped env."""

    def __init__(self, env: Any):
        self._env = env

    def step(self, key, state, action, params=None):
        """Old-API step: (obs, state, reward, done, info)."""
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
        return obs, state, reward, jnp.logical_or(terminated, truncated), info

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_env":  # copy/deepcopy probe before __init__ ran
            raise AttributeError(name)
        return getattr(self._env, name)


def make_rejax(config: PPOConfig) -> Any:
    """rejax PPO matching `config`: env, num_envs, num_steps, epochs, minibatches, network size
    and activation, lr, gamma, GAE lambda, clip, coefficients and grad-norm clip. Its periodic
    evaluation is replaced by a no-op so that only training is timed."""
    import gymnax  # here, not at the top: importing gymnax starts JAX's backends, and
    from rejax import PPO  # purejaxppo must set its XLA flag before that (see the imports)

    env, env_params = gymnax.make(config.env_id, **config.env_kwargs_dict)
    hp = config.hparams
    algo = PPO.create(
        env=FiveValueStep(env),
        env_params=env_params,
        num_envs=config.num_envs,
        num_steps=config.num_steps,
        num_epochs=config.update_epochs,
        num_minibatches=config.num_minibatches,
        total_timesteps=config.env_steps_per_run,
        eval_freq=config.env_steps_per_run,
        skip_initial_evaluation=True,
        learning_rate=hp.lr,
        gamma=hp.gamma,
        gae_lambda=hp.gae_lambda,
        clip_eps=hp.clip_eps,
        vf_coef=hp.vf_coef,
        ent_coef=hp.ent_coef,
        max_grad_norm=hp.max_grad_norm,
        agent_kwargs={
            "hidden_layer_sizes": tuple(config.hidden_sizes),
            "activation": config.activation,
        },
    )
    return algo.replace(eval_callback=lambda algo, ts, rng: jnp.float32(0.0))


def measure(name: str, num_seeds: int, repeats: int) -> dict:
    """Compile and run times of purejaxppo and rejax for one case, interleaved."""
    base = load_config(name)
    n_up = UPDATES.get(name, {}).get(num_seeds, 10)
    config = base.replace(total_timesteps=n_up * base.batch_size)
    hp = hparams_as_float32(config.hparams)
    keys = seed_keys(0, num_seeds)
    fns, compile_s = {}, {}
    start = time.perf_counter()
    fns["ours"] = jax.jit(jax.vmap(make_train(config), in_axes=(0, None))).lower(keys, hp).compile()
    compile_s["ours"] = time.perf_counter() - start
    algo = make_rejax(config)
    start = time.perf_counter()
    fns["rejax"] = jax.jit(jax.vmap(algo.train)).lower(keys).compile()
    compile_s["rejax"] = time.perf_counter() - start
    calls = {"ours": lambda: fns["ours"](keys, hp), "rejax": lambda: fns["rejax"](keys)}
    for call in calls.values():
        jax.block_until_ready(call())  # warm, untimed
    times = median_times(calls, repeats)
    steps = num_seeds * config.env_steps_per_run
    return {
        "config": name,
        "seeds": num_seeds,
        "steps": steps,
        "ours_sps": steps / times["ours"],
        "rejax_sps": steps / times["rejax"],
        "ours_compile": compile_s["ours"],
        "rejax_compile": compile_s["rejax"],
        "ratio": times["rejax"] / times["ours"],
    }


def table(rows: list[dict]) -> str:
    """The markdown table of `measure` results."""
    headers = [
        "config",
        "seeds",
        "env steps timed",
        "purejaxppo steps/s",
        "rejax steps/s",
        "ours / rejax",
        "compile ours (s)",
        "compile rejax (s)",
    ]
    body = [
        [
            r["config"],
            r["seeds"],
            fmt(r["steps"]),
            fmt(r["ours_sps"]),
            fmt(r["rejax_sps"]),
            f"{r['ratio']:.2f}x",
            fmt(r["ours_compile"], 2),
            fmt(r["rejax_compile"], 2),
        ]
        for r in rows
    ]
    return markdown_table(headers, body)


def figure(rows: list[dict]):
    """Env steps/s of purejaxppo and rejax per seed count."""
    return bar_panels(
        [
            {
                "labels": [f"{r['config']} x{r['seeds']}" for r in rows],
                "series": {
                    "purejaxppo": [r["ours_sps"] for r in rows],
                    "rejax": [r["rejax_sps"] for r in rows],
                },
                "ylabel": "env steps/s",
                "title": "seeds vmapped, both in one process",
            }
        ],
        "purejaxppo vs rejax PPO (CPU)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["cartpole"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 4, 16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default="peer_rejax")
    args = parser.parse_args()
    import importlib.metadata as md

    notes = [
        f"CPU figures (no GPU). rejax {md.version('rejax')} installed with `pip install --no-deps "
        "rejax` into the same environment, so both use the same jax, flax, optax and gymnax; it "
        "runs through `FiveValueStep`, a shim for gymnax 1.0's six-value `step`.",
        "Same env, num_envs, num_steps, epochs, minibatches, hidden sizes, activation and "
        "coefficients; seeds vmapped in one jitted program each; median of "
        f"{args.repeats} warm calls, the two libraries interleaved in one process.",
        "ours / rejax = rejax run time / purejaxppo run time for the same env steps (>1: "
        "purejaxppo is faster).",
        "Remaining differences (rejax's design): constant learning rate (ours anneals), "
        "element-wise gradient clipping and separate actor/critic optimizers, no bootstrap "
        "from truncated episodes (ours also runs the critic on every step's pre-reset "
        "observation for that), no episode-return metrics; its periodic evaluation is disabled.",
        "Reduced budgets (updates per call as in throughput.py).",
    ]
    rows = []
    for name in args.configs:
        for seeds in args.seeds:
            rows.append(measure(name, seeds, args.repeats))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
            write_results(
                args.name, "purejaxppo vs rejax PPO (CPU)", table(rows), notes, figure(rows)
            )
    print(table(rows))


if __name__ == "__main__":
    main()
