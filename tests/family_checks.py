"""What every environment family's tests check the same way: a tiny training config, a two-seed
run folder trained, evaluated and loaded through the CLI, and the CLI's refusal of a bad id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo import PPOConfig, load_policy
from purejaxppo.cli import main
from purejaxppo.io.files import read_metrics_csv


def tiny_config(env_id: str, max_steps_in_episode: int) -> PPOConfig:
    """Two updates of 4 envs x 16 steps, one epoch of one minibatch, a 16-unit network."""
    return PPOConfig(
        env_id=env_id,
        env_params={"max_steps_in_episode": max_steps_in_episode},
        num_envs=4,
        num_steps=16,
        total_timesteps=2 * 64,
        update_epochs=1,
        num_minibatches=1,
        hidden_sizes=(16,),
    )


def train_and_eval_two_seeds(config: PPOConfig, out: Path, episodes: int) -> dict[str, np.ndarray]:
    """`purejaxppo train --seeds 2` of `tiny_config`'s fields into `out`, then `eval` of it.

    Asserts both exit 0, the metrics hold both seeds (one vmapped program) with finite losses,
    and `eval.json` was written. Returns the metrics, `[2, num_updates]` each.
    """
    sets = [
        f"env_id={config.env_id}",
        f"env_params={{max_steps_in_episode: {dict(config.env_params)['max_steps_in_episode']}}}",
        f"num_envs={config.num_envs}",
        f"num_steps={config.num_steps}",
        f"total_timesteps={config.total_timesteps}",
        f"update_epochs={config.update_epochs}",
        f"num_minibatches={config.num_minibatches}",
        f"hidden_sizes={list(config.hidden_sizes)}",
    ]
    args = [arg for s in sets for arg in ("--set", s)]
    assert main(["train", *args, "--seeds", "2", "--quiet", "--out", str(out)]) == 0
    metrics = read_metrics_csv(out / "metrics.csv")
    assert metrics["episode_return"].shape == (2, config.num_updates)
    assert np.isfinite(metrics["policy_loss"]).all() and np.isfinite(metrics["value_loss"]).all()
    assert main(["eval", str(out), "--episodes", str(episodes)]) == 0
    assert (out / "eval.json").is_file()
    return metrics


def assert_discrete_policy_loads(out: Path, obs: jax.Array, num_actions: int) -> None:
    """`load_policy` of seed 1 of the run folder `out` acts on one observation `obs` and on a
    batch of 3, with actions in `[0, num_actions)`."""
    policy = load_policy(out, seed=1, deterministic=True)
    assert 0 <= int(policy(obs)) < num_actions
    assert policy(jnp.stack([obs] * 3)).shape == (3,)


def assert_train_refuses_in_one_line(env_id: str, expected: str, out: Path, capsys: Any) -> None:
    """`purejaxppo train --set env_id=ENV_ID` exits 2 with one line on stderr that contains
    `expected`, and writes no run folder at `out`."""
    capsys.readouterr()
    code = main(["train", "--set", f"env_id={env_id}", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and expected in err, err
    assert not out.exists()
