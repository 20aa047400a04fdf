"""What a craftax step costs with the adapter's same-step reset, pooled and plain.

Usage: python benchmarks/craftax_reset.py [--envs 64] [--ratios 1 16] [--repeats 20]

Times, jitted and vmapped over `--envs` environments of Craftax-Classic-Symbolic-v1: craftax's
raw step (no reset at all, the limit), the adapter's step with each `reset_ratio` (1 generates
a world per environment in every step, the plain select under vmap; 16 generates
ceil(envs / 16), `autoreset.pooled_auto_reset`), and craftax's reset alone. The calls of all
variants are interleaved (A B C A B C ...) in one process and the median is reported.
"""

from __future__ import annotations

import argparse

from common import fmt, markdown_table, median_times, write_results

import purejaxppo  # noqa: F401  (sets the XLA CPU flag before JAX starts its backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--ratios", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--name", default="craftax_reset")
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    from purejaxppo.envs.craftax_family import make

    n = args.envs
    keys = jax.random.split(jax.random.PRNGKey(0), n)
    actions = jnp.zeros((n,), jnp.int32)
    calls = {}
    for ratio in args.ratios:
        env, params = make("Craftax-Classic-Symbolic-v1", reset_ratio=ratio)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
        step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
        calls[f"adapter step, reset_ratio {ratio}"] = lambda step=step, state=state, params=params: (
            step(keys, state, actions, params)
        )
    raw = env.inner
    raw_step = jax.jit(jax.vmap(lambda k, s, a: raw.step(k, s, a, params)))
    raw_reset = jax.jit(jax.vmap(lambda k: raw.reset(k, params)))
    calls["craftax raw step (no reset)"] = lambda: raw_step(keys, state, actions)
    calls["craftax reset (a world per environment)"] = lambda: raw_reset(keys)
    for fn in calls.values():
        jax.block_until_ready(fn())  # compile
    medians = median_times(calls, args.repeats)
    rows = [[name, fmt(s * 1e3, 1), f"{n / s:,.0f}"] for name, s in medians.items()]
    body = markdown_table(
        ["call (jitted, vmapped)", f"ms per call of {n} envs", "env steps/s"], rows
    )
    print(body)
    write_results(
        args.name,
        "craftax: the adapter's same-step reset, pooled and plain",
        body,
        notes=[
            "The rows share whatever load the machine had (the load average above): compare "
            "them as ratios.",
            "Every environment is mid-episode here (no episode ends), so the figures are the cost "
            "of computing the reset, which a vmapped select pays in every step whether or not an "
            "episode ends.",
            f"Median of {args.repeats} calls per row, the rows interleaved in one process.",
        ],
    )


if __name__ == "__main__":
    main()
