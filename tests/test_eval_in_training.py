"""Evaluation while training (eval_every): when it runs, what it measures, how long its
episodes may last, and that it never changes training."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import spaces

from purejaxppo import PPOConfig, load_config, make_train, register_env, train_seeds
from purejaxppo.envs import episode_limit, make_env
from purejaxppo.evaluate import EVAL_STREAM, evaluate_episodes, make_act
from purejaxppo.parallel import seed_keys
from purejaxppo.results import run_final_returns

pytestmark = pytest.mark.timeout(300)

BASE = PPOConfig(num_envs=4, num_steps=32, total_timesteps=7 * 128, update_epochs=1)
EVAL = BASE.replace(eval_every=3, eval_episodes=5)


@pytest.fixture(scope="module")
def both():
    """(without evaluation, with it): jit(vmap(train)) over 2 seeds, the same keys."""
    run = lambda c: jax.jit(jax.vmap(make_train(c), in_axes=(0, None)))(seed_keys(0, 2), c.hparams)  # noqa: E731
    return run(BASE), run(EVAL)


def test_evaluation_does_not_change_training(both):
    off, on = both
    for a, b in zip(
        jax.tree.leaves(off.runner_state), jax.tree.leaves(on.runner_state), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for name, value in vars(off.metrics).items():
        if not name.startswith("eval_"):
            np.testing.assert_array_equal(np.asarray(value), np.asarray(getattr(on.metrics, name)))
    assert np.all(np.isnan(np.asarray(off.metrics.eval_return)))


def test_evaluations_run_every_eval_every_updates_and_after_the_last(both):
    _, on = both
    evaluated = np.isfinite(np.asarray(on.metrics.eval_return))
    # 7 updates, eval_every 3: after updates 3 and 6, and after the last (7)
    expected = np.array([False, False, True, False, False, True, True])
    np.testing.assert_array_equal(evaluated, np.stack([expected, expected]))
    np.testing.assert_array_equal(evaluated, np.isfinite(np.asarray(on.metrics.eval_length)))


def test_the_evaluation_equals_a_separate_evaluation_of_the_same_params():
    """Replays the run update by update and evaluates the params after update 3 with the
    same key and the plain `evaluate_episodes`: the numbers the metrics hold."""
    train = make_train(EVAL)
    state = train.init(jax.random.PRNGKey(5), EVAL.hparams)
    for _ in range(3):
        key = jax.random.fold_in(state.rng, EVAL_STREAM)
        state, metrics = jax.jit(train.update_step)(state, EVAL.hparams)
    act = make_act(train.network.apply, False, 10.0, True)
    out = evaluate_episodes(
        train.env, train.env_params, act, state.params, state.obs_stats, key, 5, 500
    )
    assert bool(out.finished.all())
    np.testing.assert_allclose(float(metrics.eval_return), float(out.returns.mean()), rtol=1e-6)
    np.testing.assert_allclose(float(metrics.eval_length), float(out.lengths.mean()), rtol=1e-6)
    full = jax.jit(train)(jax.random.PRNGKey(5), EVAL.hparams)
    assert float(full.metrics.eval_return[2]) == float(metrics.eval_return)


def test_final_return_is_the_last_evaluation_when_there_is_one():
    metrics = {
        "episode_return": np.array([[1.0, 2.0, 3.0]]),
        "eval_return": np.array([[np.nan, 7.0, np.nan]]),
    }
    finals, definition = run_final_returns(metrics)
    assert finals.tolist() == [7.0] and "last evaluation" in definition
    finals, definition = run_final_returns({"episode_return": metrics["episode_return"]})
    assert finals.tolist() == [3.0] and "last 10% of updates" in definition


@pytest.mark.timeout(400)
def test_greedy_evaluation_of_a_trained_cartpole_policy_scores_high():
    """The shipped CartPole config with eval_every=25: the summary's final return comes from
    the evaluation (greedy, 10 fresh episodes), and it is above 450 on 2 seeds."""
    config = load_config("cartpole", ["eval_every=25"])
    result = train_seeds(config, num_seeds=2, seed=0)
    summary = result.summary()
    assert summary["final_return_source"] == "evaluation"
    assert min(summary["final_returns"]) > 450, summary["final_returns"]


def test_a_missing_final_return_says_why_and_what_budget_gives_one():
    config = load_config("pendulum", ["total_timesteps=20000"])
    result = train_seeds(config, num_seeds=1)
    note = result.summary()["final_return_note"]
    assert note.startswith("n/a: no episode finished in the last 1 update(s)"), note
    assert "raise total_timesteps to at least" in note


def test_eval_options_are_checked():
    from purejaxppo import ConfigError

    with pytest.raises(ConfigError, match="eval_every must be 0 \\(off\\) or a positive"):
        PPOConfig(eval_every=-1)
    with pytest.raises(ConfigError, match="eval_episodes must be a positive integer"):
        PPOConfig(eval_episodes=0)


def test_every_sweep_member_is_evaluated_and_ranked_by_it():
    from purejaxppo import sweep

    config = EVAL.replace(total_timesteps=4 * 128, eval_every=2)
    result = sweep(config, {"lr": [1e-4, 1e-3]}, num_seeds=2)
    for metrics in result.metrics:
        evaluated = np.isfinite(metrics["eval_return"])
        np.testing.assert_array_equal(evaluated, np.tile([False, True, False, True], (2, 1)))
    expected = np.stack([m["eval_return"][:, -1] for m in result.metrics])
    np.testing.assert_array_equal(result.final_returns, expected)
    assert "last evaluation" in result.table()


@struct.dataclass
class HorizonParams:
    horizon: int = struct.field(pytree_node=False, default=7)


class CountUp:
    """A protocol environment (not gymnax) paying 1 per step and cut after `params.horizon`
    steps; its time limit has its own name, which `episode_limit(params)` reports."""

    default_params = HorizonParams()

    def episode_limit(self, params: HorizonParams) -> int:
        return params.horizon

    def reset(self, key, params):
        return jnp.zeros((1,), jnp.float32), jnp.int32(0)

    def step(self, key, t, action, params):
        obs, t = jnp.zeros((1,), jnp.float32), t + 1
        truncated = t >= params.horizon
        info = {"final_observation": obs}
        return obs, jnp.where(truncated, 0, t), jnp.float32(1.0), jnp.array(False), truncated, info

    def action_space(self, params=None):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (1,), jnp.float32)


class CountUpWithoutLimit(CountUp):
    """The same environment stating no limit at all."""

    episode_limit = None


def test_the_episode_limit_comes_from_the_protocol_method_else_max_steps_in_episode():
    import gymnax

    assert episode_limit(CountUp(), HorizonParams(horizon=9)) == 9
    cartpole, params = gymnax.make("CartPole-v1")
    assert episode_limit(cartpole, params) == 500
    assert episode_limit(CountUpWithoutLimit(), HorizonParams()) is None
    register_env("CountUp-v0", CountUp, overwrite=True)
    env, params = make_env("CountUp-v0", env_params={"horizon": 5})  # through the wrappers
    assert env.episode_limit(params) == 5


def test_evaluation_scans_to_the_limit_an_environment_names_or_to_eval_max_steps():
    from purejaxppo import ConfigError

    register_env("CountUp-v0", CountUp, overwrite=True)
    register_env("CountUpWithoutLimit-v0", CountUpWithoutLimit, overwrite=True)
    config = BASE.replace(env_id="CountUp-v0", total_timesteps=128, eval_every=1, eval_episodes=2)
    metrics = train_seeds(config, 1, 0).metrics
    assert metrics["eval_length"][0, -1] == 7.0 and metrics["eval_return"][0, -1] == 7.0
    unlimited = config.replace(env_id="CountUpWithoutLimit-v0")
    with pytest.raises(ConfigError, match="states no episode limit.*eval_max_steps"):
        make_train(unlimited)
    metrics = train_seeds(unlimited.replace(eval_max_steps=10), 1, 0).metrics
    assert metrics["eval_length"][0, -1] == 7.0  # scanned 10 steps, the episode was cut at 7
    with pytest.raises(ConfigError, match="eval_max_steps must be 0"):
        PPOConfig(eval_max_steps=-1)
