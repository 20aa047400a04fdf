"""What every environment family's tests check the same way: a tiny training config, and a
two-seed run folder trained, evaluated and loaded through the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from purejaxppo import PPOConfig
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
