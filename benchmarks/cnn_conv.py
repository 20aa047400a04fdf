"""The CNN encoder's convolution under vmap over seeds: `SameConv` (patches times a matrix,
what purejaxppo ships) against flax's `nn.Conv` with the same parameters.

Usage: python benchmarks/cnn_conv.py [--config breakout_minatar_cnn] [--seeds 1 4]
       [--updates 3] [--repeats 2]

Each measurement is `train_seeds(config, seeds)` in a fresh process, the two convolutions
alternating (flax, ours, flax, ours, ...) so that drifts in the machine's load hit both alike;
the table gives the median env steps/s of the run after compiling, PPO updates included.
Under vmap every seed has its own kernel: XLA makes `nn.Conv` a grouped convolution there,
which its CPU backend runs slowly; `SameConv` is a batched matrix product.
"""

from __future__ import annotations

import argparse

from common import alternated, child_json, fmt, markdown_table, write_results

CHILD = """
import json, sys
import flax.linen as nn
import purejaxppo
from purejaxppo import load_config, train_seeds
import purejaxppo.networks.cnn as cnn

config_name, seeds, updates, conv = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if conv == "flax":
    class FlaxConv(nn.Module):
        channels: int
        kernel: int
        stride: int

        @nn.compact
        def __call__(self, x):
            k, s = self.kernel, self.stride
            return nn.Conv(self.channels, (k, k), strides=(s, s), padding="SAME",
                           kernel_init=cnn.orthogonal(2.0 ** 0.5), name="conv")(x)
    cnn.SameConv = FlaxConv
config = load_config(config_name)
config = config.replace(total_timesteps=updates * config.batch_size)
result = train_seeds(config, seeds, 0)
print(json.dumps({"compile": result.compile_seconds, "run": result.run_seconds,
                  "steps_per_second": result.env_steps_per_second}))
"""


def measure(config: str, seeds: int, updates: int, conv: str) -> dict[str, float]:
    """One fresh process: compile and run seconds and env steps/s of `train_seeds`."""
    return child_json(["-c", CHILD, config, str(seeds), str(updates), conv])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="breakout_minatar_cnn")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--name", default="cnn_conv")
    args = parser.parse_args()
    rows = []
    for seeds in args.seeds:
        med = alternated(
            ["flax", "ours"],
            args.repeats,
            lambda conv, seeds=seeds: measure(args.config, seeds, args.updates, conv),
        )
        for conv, label in (("flax", "flax nn.Conv"), ("ours", "SameConv (shipped)")):
            speed = med[conv]["steps_per_second"]
            rows.append(
                [
                    label,
                    seeds,
                    f"{speed:,.0f}",
                    fmt(med[conv]["compile"]),
                    fmt(speed / med["flax"]["steps_per_second"], 2),
                ]
            )
    body = markdown_table(
        ["convolution", "seeds (vmapped)", "env steps/s", "compile s", "vs nn.Conv"], rows
    )
    print(body)
    write_results(
        args.name,
        "CNN encoder: SameConv vs flax nn.Conv under vmap over seeds (CPU)",
        body,
        notes=[
            f"`{args.config}` for {args.updates} updates per seed; median of {args.repeats} fresh "
            "processes per row, the two convolutions alternating.",
            "Both compute the same function from the same parameter tree "
            "(tests/test_cnn.py::test_same_conv_equals_flax_conv_with_the_same_parameters).",
        ],
    )


if __name__ == "__main__":
    main()
