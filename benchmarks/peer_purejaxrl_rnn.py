"""Recurrent PPO against a peer: purejaxppo's `recurrent: gru` and PureJaxRL's `ppo_rnn.py` on
CartPole-v1 with the same budget, batch shape, epochs, minibatches and coefficients, timed in one
process (interleaved) for the same numbers of vmapped seeds: env steps/s, compile time and final
return.

Usage: python benchmarks/peer_purejaxrl_rnn.py --purejaxrl PATH [--seeds 1 4] [--repeats 2]
       [--steps N] [--set KEY=VALUE ...] [--quick] [--only ours|purejaxrl]

`--set` overrides ours only (e.g. `--set bootstrap_truncated=false`, truncation as termination
as in ppo_rnn.py); `--quick` is a smoke test (8 updates, 1 seed); `--only` runs one side.

PATH is a checkout of luchris429/purejaxrl (the folder that holds `purejaxrl/ppo_rnn.py`); its
`ppo_rnn.py` and `wrappers.py` are imported from there at run time, never copied here. Nothing
in PureJaxRL's algorithm is changed; three adapters let it run on this environment's versions:

1. gymnax 1.0 `step` returns (obs, state, reward, terminated, truncated, info); ppo_rnn.py's
   wrappers unpack the old (obs, state, reward, done, info). `gymnax.make` in ppo_rnn's namespace
   returns the env wrapped in `FiveValueStep`: done = terminated | truncated, and `info` without
   the keys gymnax 1.0 added (terminated, truncated, final_observation), as the old API had it
   (ppo_rnn.py returns every step's `info` as its metrics).
2. flax 0.12's `GRUCell` needs `features` and has an instance `initialize_carry(rng, shape)`;
   ppo_rnn.py calls `nn.GRUCell()` and the old static `GRUCell.initialize_carry(rng, batch_dims,
   size)`. Its `nn` is replaced by `flax.linen` with `GRUCell` swapped for `OldApiGRUCell`: a
   flax GRUCell of the carry's width (same gates and default initializers), zero initial carry.
3. `wrappers.py` imports brax and navix at its top for wrappers ppo_rnn.py never uses; when they
   are not installed, placeholder modules stand in for them during the import only.

Environment: plain CartPole-v1 for both (PureJaxRL runs gymnax ids by name and has no
observation masking; purejaxppo's masked-velocity CartPole is ours only).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import statistics
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from common import bar_panels, figures_note, fmt, hardware_label, markdown_table, write_results

import purejaxppo  # sets the XLA CPU flag before JAX starts its backend
from purejaxppo._xla import compiler_options
from purejaxppo.config import PPOConfig
from purejaxppo.loading import parse_overrides
from purejaxppo.parallel import compile_train, seed_keys
from purejaxppo.results import final_return

# ppo_rnn.py's widths are hard-coded: Dense(128) embedding, GRU(128), Dense(128) in each head.
WIDTH = 128
OURS_OVERRIDES = {
    "recurrent": "gru",
    "recurrent_size": WIDTH,
    "hidden_sizes": [WIDTH],  # the encoder: one Dense(128), as ppo_rnn.py's embedding
    "activation": "relu",  # ppo_rnn.py uses relu throughout
    "shared_network": True,  # one encoder and one GRU for actor and critic, as ppo_rnn.py
}
# Keys gymnax 1.0 adds to `info`; the old five-value API did not have them.
NEW_INFO_KEYS = ("terminated", "truncated", "final_observation")
# Modules `purejaxrl/wrappers.py` imports at its top for its Brax and Navix wrappers.
WRAPPERS_EXTRAS = ("brax", "brax.envs", "brax.envs.wrappers", "brax.envs.wrappers.training")
PLACEHOLDER_NAMES = {"brax.envs.wrappers.training": ("EpisodeWrapper", "AutoResetWrapper")}


class FiveValueStep:
    """gymnax 1.0 env with the old API: `step` returns (obs, state, reward, done, info) with
    done = terminated | truncated and `info` stripped of `NEW_INFO_KEYS`; the rest is forwarded."""

    def __init__(self, env: Any):
        self._env = env

    def step(self, key: jax.Array, state: Any, action: Any, params: Any = None) -> tuple:
        """Old-API step: (obs, state, reward, done, info)."""
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
        info = {k: v for k, v in info.items() if k not in NEW_INFO_KEYS}
        return obs, state, reward, jnp.logical_or(terminated, truncated), info

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_env":  # copy/pickle probes before __init__ ran
            raise AttributeError(name)
        return getattr(self._env, name)


class OldApiGRUCell(nn.Module):
    """flax < 0.7's `GRUCell()` call shape on flax 0.12: the width is the carry's, and
    `initialize_carry(rng, batch_dims, size)` is static and returns zeros (the old default)."""

    @nn.compact
    def __call__(self, carry: jax.Array, inputs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """One GRU step: (new carry `[B, H]`, output `[B, H]`)."""
        return nn.GRUCell(features=carry.shape[-1])(carry, inputs)

    @staticmethod
    def initialize_carry(rng: jax.Array, batch_dims: tuple[int, ...], size: int) -> jax.Array:
        """The zero carry `[*batch_dims, size]` (`rng` unused, as in old flax's zeros init)."""
        del rng
        return jnp.zeros((*batch_dims, size), jnp.float32)


class _LinenWithOldGRUCell:
    """`flax.linen` as ppo_rnn.py sees it: everything forwarded, `GRUCell` = `OldApiGRUCell`."""

    GRUCell = OldApiGRUCell

    def __getattr__(self, name: str) -> Any:
        return getattr(nn, name)


class _GymnaxFiveValue:
    """`gymnax` as ppo_rnn.py sees it: `make` wraps the env in `FiveValueStep`."""

    def make(self, env_id: str, **kwargs: Any) -> tuple[Any, Any]:
        """`gymnax.make(env_id, **kwargs)` with the env in `FiveValueStep`."""
        import gymnax

        env, params = gymnax.make(env_id, **kwargs)
        return FiveValueStep(env), params

    def __getattr__(self, name: str) -> Any:
        import gymnax

        return getattr(gymnax, name)


def _placeholder(name: str) -> Any:
    def missing(*args: Any, **kwargs: Any) -> Any:
        raise ImportError(f"{name} is a placeholder: brax/navix are not installed")

    return missing


@contextlib.contextmanager
def _placeholder_modules(names: tuple[str, ...]) -> Iterator[None]:
    """Installs empty stand-ins in `sys.modules` for those of `names` that cannot be imported,
    and removes them again on exit."""
    roots = {name.split(".")[0] for name in names}
    missing = {r for r in roots if r not in sys.modules and importlib.util.find_spec(r) is None}
    added = []
    for name in names:
        if name.split(".")[0] not in missing:
            continue
        module = types.ModuleType(name, "placeholder for purejaxrl/wrappers.py's import")
        for attr in PLACEHOLDER_NAMES.get(name, ()):
            setattr(module, attr, _placeholder(f"{name}.{attr}"))
        sys.modules[name] = module
        added.append(name)
    for name in added:  # `from brax import envs` looks the child up on its parent
        parent, _, child = name.rpartition(".")
        if parent in added:
            setattr(sys.modules[parent], child, sys.modules[name])
    try:
        yield
    finally:
        for name in added:
            del sys.modules[name]


def _module_from_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_purejaxrl_script(checkout: Path, filename: str) -> types.ModuleType:
    """Imports `purejaxrl/<filename>` from a PureJaxRL checkout with its `wrappers.py` (placeholder
    brax/navix modules stand in during the import when those are not installed) and its `gymnax`
    replaced by one whose `make` returns `FiveValueStep` envs.

    Args:
        checkout: the repository root (holding `purejaxrl/<filename>` and `purejaxrl/wrappers.py`).
        filename: the script, e.g. "ppo.py" or "ppo_rnn.py".

    Returns:
        The module; `module.make_train(config_dict)` gives its pure `train(rng)`.
    """
    folder = Path(checkout).expanduser().resolve() / "purejaxrl"
    if not (folder / filename).is_file():
        raise SystemExit(f"--purejaxrl {checkout}: no purejaxrl/{filename} there")
    previous = sys.modules.get("wrappers")
    try:
        with _placeholder_modules(WRAPPERS_EXTRAS + ("navix",)):
            # the script does `from wrappers import ...`: the checkout's file under that name
            _module_from_file("wrappers", folder / "wrappers.py")
            module = _module_from_file(f"purejaxrl_{Path(filename).stem}", folder / filename)
    finally:
        if previous is None:
            sys.modules.pop("wrappers", None)
        else:
            sys.modules["wrappers"] = previous
    module.gymnax = _GymnaxFiveValue()  # read when make_train runs
    return module


def load_ppo_rnn(checkout: Path) -> types.ModuleType:
    """`purejaxrl/ppo_rnn.py` by `load_purejaxrl_script`, its `nn.GRUCell` seen through
    `OldApiGRUCell` (the module docstring's adapter 2)."""
    module = load_purejaxrl_script(checkout, "ppo_rnn.py")
    module.nn = _LinenWithOldGRUCell()  # read when its modules run, after the import
    return module


def checkout_commit(checkout: str) -> str:
    """The commit of a PureJaxRL checkout (`git rev-parse HEAD`), or why it is unknown."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "-C", checkout, "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return "unknown: no git"
    return out.stdout.strip() if out.returncode == 0 else "unknown: not a git checkout"


def ours_config(name: str, total_timesteps: int | None, extra: list[str] = ()) -> PPOConfig:
    """The purejaxppo config `name` with the GRU network closest to ppo_rnn.py's, then the
    "key=value" overrides `extra` (which may change ours only, e.g. bootstrap_truncated=false)."""
    overrides: dict[str, Any] = {**OURS_OVERRIDES, **parse_overrides(list(extra))}
    if total_timesteps is not None:
        overrides["total_timesteps"] = total_timesteps
    config = purejaxppo.load_config(name, overrides)
    if config.env_kwargs or config.env_params or config.obs_mask or config.normalize_observations:
        raise SystemExit(
            f"config {name!r} changes the env or its observations; ppo_rnn.py runs plain gymnax "
            "ids only"
        )
    return config


def purejaxrl_config(config: PPOConfig) -> dict[str, Any]:
    """ppo_rnn.py's config dict with the values of `config` (a new dict: make_train mutates it)."""
    hp = config.hparams
    return {
        "LR": float(hp.lr),
        "NUM_ENVS": config.num_envs,
        "NUM_STEPS": config.num_steps,
        "TOTAL_TIMESTEPS": config.env_steps_per_run,
        "UPDATE_EPOCHS": config.update_epochs,
        "NUM_MINIBATCHES": config.num_minibatches,
        "GAMMA": float(hp.gamma),
        "GAE_LAMBDA": float(hp.gae_lambda),
        "CLIP_EPS": float(hp.clip_eps),
        "ENT_COEF": float(hp.ent_coef),
        "VF_COEF": float(hp.vf_coef),
        "MAX_GRAD_NORM": float(hp.max_grad_norm),
        "ENV_NAME": config.env_id,
        "ANNEAL_LR": config.anneal_lr,
        "DEBUG": False,
    }


def purejaxrl_final_returns(metric: dict[str, Any]) -> np.ndarray:
    """`[seeds]` final returns from ppo_rnn.py's per-step `info` (leaves `[seeds, updates, steps,
    envs]`), by purejaxppo's definition: per update, the mean return of the episodes that ended
    in its rollout (NaN if none), then `final_return` (mean over the last 10% of updates)."""
    ended = np.asarray(metric["returned_episode"], dtype=bool)
    returns = np.asarray(metric["returned_episode_returns"], dtype=np.float64)
    count = ended.sum(axis=(-2, -1))
    total = np.where(ended, returns, 0.0).sum(axis=(-2, -1))
    per_update = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return final_return(per_update)


def _param_count(params: Any, num_seeds: int) -> int:
    return sum(int(np.size(leaf)) for leaf in jax.tree.leaves(params)) // num_seeds


class Ours:
    """purejaxppo's side: `train_seeds`, its program compiled beforehand by `compile_train`."""

    def __init__(self, config: PPOConfig, num_seeds: int):
        self.config, self.num_seeds = config, num_seeds
        self.final: np.ndarray | None = None

    def prepare(self) -> None:
        """Compiles (memoized: `train_seeds` reuses the program) and records compile seconds."""
        _, self.compile_s = compile_train(self.config, self.num_seeds)

    def run(self) -> float:
        """Seconds of one compiled run; the first also records final returns and parameters."""
        result = purejaxppo.train_seeds(self.config, self.num_seeds, 0)
        if self.final is None:
            self.final = final_return(result.metrics["episode_return"])
            self.params = _param_count(result.runner_state.params, self.num_seeds)
        return result.run_seconds


class PureJaxRL:
    """PureJaxRL's side: `jit(vmap(make_train(setting)))` of its script on the same keys; the
    setting is `purejaxrl_config(config)` unless given (a config dict of the script's own)."""

    def __init__(
        self,
        module: types.ModuleType,
        config: PPOConfig,
        num_seeds: int,
        setting: dict[str, Any] | None = None,
    ):
        self.module, self.config, self.num_seeds = module, config, num_seeds
        self.setting = setting
        self.keys = seed_keys(0, num_seeds)
        self.final: np.ndarray | None = None

    def prepare(self) -> None:
        """Lowers and compiles, recording the seconds."""
        setting = purejaxrl_config(self.config) if self.setting is None else dict(self.setting)
        train = self.module.make_train(setting)
        start = time.perf_counter()
        lowered = jax.jit(jax.vmap(train)).lower(self.keys)
        self.compiled = lowered.compile(compiler_options())  # the options ours compiles with
        self.compile_s = time.perf_counter() - start

    def run(self) -> float:
        """Seconds of one compiled run; the first also records final returns and parameters."""
        start = time.perf_counter()
        out = jax.block_until_ready(self.compiled(self.keys))
        seconds = time.perf_counter() - start
        if self.final is None:
            # ppo_rnn.py names its per-step infos "metric", ppo.py "metrics"
            self.final = purejaxrl_final_returns(out.get("metric", out.get("metrics")))
            self.params = _param_count(out["runner_state"][0].params, self.num_seeds)
        return seconds


def measure(
    config: PPOConfig,
    module: types.ModuleType | None,
    num_seeds: int,
    repeats: int,
    only: str,
    setting: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Both sides (or `only` one) for `num_seeds` vmapped seeds: each compiled, then `repeats`
    timed runs each, interleaved with the order alternating (A B, B A, ...). There is no untimed
    warm-up call: at the full budget a call takes minutes, and the same keys give the same run.
    `setting`: PureJaxRL's config dict, when it is not `purejaxrl_config(config)`."""
    sides: dict[str, Any] = {}
    if only in ("both", "ours"):
        sides["ours"] = Ours(config, num_seeds)
    if only in ("both", "purejaxrl"):
        sides["purejaxrl"] = PureJaxRL(module, config, num_seeds, setting)
    for side in sides.values():
        side.prepare()
    times: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(repeats):
        for name in list(sides)[:: 1 if i % 2 == 0 else -1]:
            times[name].append(sides[name].run())
    steps = num_seeds * config.env_steps_per_run
    row: dict[str, Any] = {"seeds": num_seeds, "steps": steps}
    for name in ("ours", "purejaxrl"):
        side = sides.get(name)
        row[f"{name}_sps"] = steps / statistics.median(times[name]) if side else math.nan
        row[f"{name}_compile"] = side.compile_s if side else math.nan
        row[f"{name}_return"] = float(np.nanmean(side.final)) if side else math.nan
        row[f"{name}_return_std"] = float(np.nanstd(side.final)) if side else math.nan
        row[f"{name}_finals"] = side.final if side else None
        row[f"{name}_params"] = side.params if side else None
    row["ratio"] = row["ours_sps"] / row["purejaxrl_sps"]
    return row


def _return_cell(mean: float, std: float, seeds: int) -> str:
    if mean != mean:
        return "-"
    return fmt(mean) if seeds == 1 else f"{fmt(mean)} ± {fmt(std)}"


def table(rows: list[dict[str, Any]], env_id: str) -> str:
    """The markdown table of `measure` results."""
    headers = [
        "env",
        "seeds",
        "env steps per call",
        "purejaxppo steps/s",
        "PureJaxRL steps/s",
        "ours / PureJaxRL",
        "compile ours (s)",
        "compile PureJaxRL (s)",
        "final return ours",
        "final return PureJaxRL",
    ]
    body = [
        [
            env_id,
            r["seeds"],
            fmt(r["steps"]),
            fmt(r["ours_sps"]),
            fmt(r["purejaxrl_sps"]),
            "-" if r["ratio"] != r["ratio"] else f"{r['ratio']:.2f}x",
            fmt(r["ours_compile"], 2),
            fmt(r["purejaxrl_compile"], 2),
            _return_cell(r["ours_return"], r["ours_return_std"], r["seeds"]),
            _return_cell(r["purejaxrl_return"], r["purejaxrl_return_std"], r["seeds"]),
        ]
        for r in rows
    ]
    return markdown_table(headers, body)


def figure(
    rows: list[dict[str, Any]],
    names: tuple[str, str] = ("purejaxppo (gru)", "PureJaxRL ppo_rnn"),
    title: str = "Recurrent PPO: purejaxppo vs PureJaxRL ppo_rnn",
) -> Any:
    """Env steps/s and final return of both sides (`names`: ours, theirs) per seed count."""
    labels = [f"x{r['seeds']}" for r in rows]

    def series(key: str) -> dict[str, list[float]]:
        return {
            names[0]: [r[f"ours_{key}"] for r in rows],
            names[1]: [r[f"purejaxrl_{key}"] for r in rows],
        }

    return bar_panels(
        [
            {
                "labels": labels,
                "series": series("sps"),
                "ylabel": "env steps/s",
                "title": "seeds vmapped, both in one process",
            },
            {
                "labels": labels,
                "series": series("return"),
                "ylabel": "final return",
                "title": "mean over seeds (last 10% of updates)",
            },
        ],
        f"{title} ({hardware_label()})",
    )


def notes(config: PPOConfig, rows: list[dict[str, Any]], repeats: int, checkout: str) -> list[str]:
    """What was compared and how, for the results file."""
    r = rows[0]
    return [
        figures_note(),
        f"PureJaxRL: `purejaxrl/ppo_rnn.py` imported at run time from `{checkout}` (commit "
        f"{checkout_commit(checkout)}; not copied), "
        "with three adapters and no change to its algorithm: gymnax 1.0's six-value `step` "
        "seen through `FiveValueStep` (done = terminated | truncated, `info` without the keys "
        "gymnax 1.0 added), flax 0.12's `GRUCell` seen through `OldApiGRUCell` (the old "
        "`GRUCell()` and static zero `initialize_carry`), placeholder brax/navix modules while "
        "`wrappers.py` is imported (its Brax/Navix wrappers are unused).",
        f"Same env ({config.env_id}, plain: PureJaxRL has no observation masking), num_envs "
        f"{config.num_envs}, num_steps {config.num_steps}, {config.env_steps_per_run:,} env "
        f"steps per seed ({config.num_updates} updates), epochs {config.update_epochs}, "
        f"minibatches {config.num_minibatches} (both split environments, never time), lr "
        f"{config.hparams.lr:g} annealed to 0, gamma, GAE lambda, clip, coefficients, grad-norm "
        "clip and Adam eps; the same seed keys. Both jitted as one vmapped program each; median "
        f"of {repeats} timed calls after compiling (no untimed warm-up: a full-budget call takes "
        "minutes), the two interleaved in one process (order alternating).",
        f"Networks: ours `recurrent: {config.recurrent}`, `recurrent_size: "
        f"{config.recurrent_size}`, `hidden_sizes: {list(config.hidden_sizes)}`, `activation: "
        f"{config.activation}`, `shared_network: {str(config.shared_network).lower()}` (encoder "
        "MLP -> cell -> one hidden layer of the last encoder width in each head -> policy and "
        "value outputs; separate networks have one of each per actor and critic); ppo_rnn.py: "
        f"Dense({WIDTH}) relu -> GRU({WIDTH}) -> a Dense({WIDTH}) relu layer in each head before "
        "its output layer, the same shape. Parameters per seed: ours "
        f"{r['ours_params'] or '-'}, PureJaxRL {r['purejaxrl_params'] or '-'}. GRU initializers: "
        "ours purejaxppo's (`networks/recurrent.py`), theirs flax's defaults (lecun-normal input "
        "kernel, orthogonal recurrent kernel).",
        (
            "Other differences (design): ours bootstraps truncated episodes (CartPole's 500-step "
            "limit) from the critic on the pre-reset observation, which costs one more network "
            "step per env step; ppo_rnn.py treats truncation as termination. "
            if config.bootstrap_truncated
            else "Ours runs with `bootstrap_truncated: false`: truncation is termination, as "
            "in ppo_rnn.py. "
        )
        + "ppo_rnn.py returns every "
        "step's `info` as metrics (`[seeds, updates, steps, envs]`); ours reduces metrics to "
        "scalars per update inside the program.",
        "Final return, both: per update the mean return of the episodes that ended in its "
        "rollout (NaN if none), then `purejaxppo.results.final_return` (mean over the last 10% "
        "of updates, NaN updates ignored); for PureJaxRL computed from its "
        "`returned_episode_returns` masked by `returned_episode`. Same definition; mean ± std "
        "over seeds.",
        "ours / PureJaxRL = purejaxppo env steps/s / PureJaxRL env steps/s (>1: purejaxppo is "
        "faster). Compile seconds are lowering + XLA compile, excluded from steps/s.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purejaxrl", help="a checkout of luchris429/purejaxrl")
    parser.add_argument("--config", default="cartpole", help="purejaxppo config (gymnax env)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--steps", type=int, default=None, help="env steps per seed (config's)")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per side")
    parser.add_argument(
        "--set", nargs="+", default=[], metavar="KEY=VALUE", help="overrides for ours only"
    )
    parser.add_argument("--only", choices=("both", "ours", "purejaxrl"), default="both")
    parser.add_argument("--quick", action="store_true", help="smoke test: 8 updates, 1 seed")
    parser.add_argument("--name", default=None, help="results file name")
    args = parser.parse_args()
    if args.only != "ours" and not args.purejaxrl:
        parser.error("--purejaxrl PATH is needed unless --only ours")
    steps, seeds, repeats = args.steps, args.seeds, args.repeats
    if args.quick:
        base = ours_config(args.config, None, args.set)
        steps, seeds = 8 * base.batch_size, [1]
    name = args.name or ("peer_purejaxrl_rnn_quick" if args.quick else "peer_purejaxrl_rnn")
    config = ours_config(args.config, steps, args.set)
    module = load_ppo_rnn(Path(args.purejaxrl)) if args.only != "ours" else None
    title = f"Recurrent PPO: purejaxppo vs PureJaxRL ppo_rnn ({hardware_label()})"
    rows: list[dict[str, Any]] = []
    for num_seeds in seeds:
        rows.append(measure(config, module, num_seeds, repeats, args.only))
        print(table(rows[-1:], config.env_id).splitlines()[-1], flush=True)
        write_results(
            name,
            title,
            table(rows, config.env_id),
            notes(config, rows, repeats, args.purejaxrl or "-"),
            figure(rows),
        )
    print(table(rows, config.env_id))


if __name__ == "__main__":
    main()
