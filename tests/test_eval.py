"""Evaluation: done masks count each env's first episode only; a converged policy evaluates as it
trained; `purejaxppo eval` writes eval.json. Also defines the trained run the other files share."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo import PPOConfig, load_config, make_train
from purejaxppo.cli import main
from purejaxppo.evaluate import make_evaluate
from purejaxppo.normalize import init_stats

# One small CartPole config shared by the checkpoint, resume, eval, export and render tests, so
# the chunked program compiles once per session: 288 updates of 8 envs x 64 steps (1.5e5 env
# steps per seed) in 4 chunks of 72; seeds 0-3 all hold 500 over the last 30% of updates
# (about 5 s for 2 seeds on 2 CPU cores, after a 20 s compile).
RUN_SETS = ("total_timesteps=147456", "lr=0.0025", "num_envs=8", "num_steps=64")
CHUNK = 72


def run_config() -> PPOConfig:
    """The shared config, as `train --config cartpole --set ...` builds it."""
    return load_config("cartpole", list(RUN_SETS))


def train_args(out: Path, *extra: str) -> list[str]:
    """`purejaxppo train` arguments for the shared run (2 seeds, checkpoints every chunk)."""
    sets = [arg for s in RUN_SETS for arg in ("--set", s)]
    every = ["--log-every", str(CHUNK), "--checkpoint-every", str(CHUNK)]
    return ["train", "--config", "cartpole", *sets, "--seeds", "2", *every, "--quiet", "--out", str(out), *extra]  # fmt: skip


def shared_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared run folder, trained once per session (read-only for the tests that use it)."""
    out = tmp_path_factory.getbasetemp() / "shared-cartpole-run"
    if not (out / "summary.json").is_file():
        shutil.rmtree(out, ignore_errors=True)
        assert main(train_args(out)) == 0
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return shared_run(tmp_path_factory)


def _probe(env_id: str, **env_kwargs) -> PPOConfig:
    return PPOConfig(
        env_id=env_id,
        env_kwargs=env_kwargs,
        num_envs=2,
        num_steps=8,
        total_timesteps=16,
        num_minibatches=1,
        hidden_sizes=(8,),
    )


def _random_params(config: PPOConfig):
    return make_train(config).network.init(jax.random.PRNGKey(1), jnp.zeros((1, 1)))


@pytest.mark.parametrize(
    "max_steps, expected, finished",
    [(20, 7.0, True), (7, 7.0, True), (5, 5.0, False)],  # 20: auto-reset after 7 must not count
)
def test_done_mask_counts_only_the_first_episode(max_steps, expected, finished):
    """Reward 1 per step, truncated after 7 steps: every episode returns exactly 7."""
    config = _probe("ProbeEndless-v0", max_steps=7)
    evaluate = jax.jit(make_evaluate(config, 6, deterministic=False, max_steps=max_steps))
    out = evaluate(_random_params(config), init_stats((1,)), jax.random.PRNGKey(0))
    np.testing.assert_array_equal(out.returns, np.full(6, expected, np.float32))
    np.testing.assert_array_equal(out.lengths, np.full(6, int(expected)))
    assert out.finished.tolist() == [finished] * 6


def test_greedy_evaluation_uses_the_argmax_action():
    """MatchSign pays 1 when the action matches the observation's sign. A policy whose logits
    are forced by hand to always pick action 1 earns exactly the share of +1 observations."""
    config = _probe("ProbeMatchSign-v0")
    params = _random_params(config)
    (head,) = [k for k, v in params["params"].items() if np.shape(v.get("bias")) == (2,)]
    params["params"][head]["bias"] = jnp.array([0.0, 100.0])
    out = jax.jit(make_evaluate(config, 200, deterministic=True))(
        params, init_stats((1,)), jax.random.PRNGKey(3)
    )
    assert out.finished.all() and (out.lengths == 1).all()
    rate = float(out.returns.mean())
    assert 0.35 < rate < 0.65 and set(np.unique(out.returns).tolist()) <= {0.0, 1.0}


@pytest.mark.timeout(240)
def test_converged_cartpole_evaluates_like_it_trained(trained, capsys):
    summary = json.loads((trained / "summary.json").read_text())
    assert min(summary["final_returns"]) > 450, summary["final_returns"]
    assert main(["eval", str(trained), "--episodes", "16"]) == 0
    report = json.loads((trained / "eval.json").read_text())
    assert report["seeds"] == [0, 1] and report["checkpoint"] == 288
    assert np.asarray(report["returns"]).shape == (2, 16)
    for trained_return, evaluated in zip(
        summary["final_returns"], report["per_seed_mean"], strict=True
    ):
        assert abs(evaluated - trained_return) <= 0.1 * trained_return
    assert report["mean"] == pytest.approx(np.mean(report["returns"]))
    assert "wrote" in capsys.readouterr().out


@pytest.mark.timeout(240)
def test_eval_of_a_chosen_checkpoint_and_bad_input(trained, capsys):
    assert main(["eval", str(trained), "--episodes", "4", "--checkpoint", "144"]) == 0
    assert json.loads((trained / "eval.json").read_text())["checkpoint"] == 144
    assert main(["eval", str(trained), "--checkpoint", "72"]) == 2  # only the last 3 are kept
    assert "no checkpoint at update 72" in capsys.readouterr().err
    assert main(["eval", str(trained / "checkpoints")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["eval", str(trained), "--episodes", "0"]) == 2
    assert "episodes must be a positive integer" in capsys.readouterr().err
