"""The brax adapter: shapes and dtypes, an exact time limit and a real termination checked
against the raw brax environment, training over two seeds, a run folder evaluated and loaded,
and the one-line error of a misspelt id."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("brax")

from brax import envs as brax_envs  # noqa: E402

from family_checks import (  # noqa: E402
    assert_train_refuses_in_one_line,
    tiny_config,
    train_and_eval_two_seeds,
)
from purejaxppo import ConfigError, load_policy, make_train  # noqa: E402
from purejaxppo.envs import brax_family, make_env  # noqa: E402
from purejaxppo.envs.brax_family import BraxParams  # noqa: E402

PENDULUM = "inverted_pendulum"
# Reward 1 per upright step; a 30-step limit keeps evaluation scans short.
TINY = tiny_config(f"brax:{PENDULUM}", max_steps_in_episode=30)


@pytest.fixture(scope="module")
def pendulum():
    """(adapter, jitted reset, jitted step, raw brax env, its jitted reset and step)."""
    env, _ = brax_family.make(PENDULUM)
    raw = brax_envs.get_environment(PENDULUM, backend=brax_family.DEFAULT_BACKEND)
    return env, jax.jit(env.reset), jax.jit(env.step), jax.jit(raw.reset), jax.jit(raw.step)


@pytest.mark.timeout(120)
def test_ids_spaces_shapes_and_dtypes(pendulum):
    env, reset, step, _, _ = pendulum
    assert {"hopper", PENDULUM, "ant"} <= set(brax_family.env_ids())
    params = env.default_params
    assert params.max_steps_in_episode == 1000
    space = env.action_space(params)
    assert space.shape == (1,) and float(space.low) == -1.0 and float(space.high) == 1.0
    assert env.observation_space(params).shape == (4,)
    obs, state = reset(jax.random.PRNGKey(0), params)
    assert obs.shape == (4,) and obs.dtype == jnp.float32 and int(state.time) == 0
    action = space.sample(jax.random.PRNGKey(1))
    obs, state, reward, terminated, truncated, info = step(
        jax.random.PRNGKey(2), state, action, params
    )
    assert obs.shape == (4,) and obs.dtype == jnp.float32
    assert reward.shape == () and reward.dtype == jnp.float32 and float(reward) == 1.0
    for flag in (terminated, truncated):
        assert flag.shape == () and flag.dtype == jnp.bool_ and not bool(flag)
    assert info["final_observation"].shape == (4,) and int(state.time) == 1


@pytest.mark.timeout(120)
def test_time_limit_truncates_with_the_raw_envs_final_observation(pendulum):
    env, reset, step, raw_reset, raw_step = pendulum
    params = BraxParams(max_steps_in_episode=5)
    keys = jax.random.split(jax.random.PRNGKey(7), 6)
    action = jnp.zeros((1,))
    obs, state = reset(keys[0], params)
    raw = raw_reset(keys[0])
    np.testing.assert_array_equal(obs, raw.obs)
    for t in range(1, 6):
        obs, state, reward, terminated, truncated, info = step(keys[t], state, action, params)
        raw = raw_step(raw, action)
        assert not bool(terminated) and bool(truncated) == (t == 5), t
        np.testing.assert_allclose(info["final_observation"], raw.obs, rtol=1e-6, atol=1e-7)
    assert not bool(raw.done)  # brax itself saw no termination
    np.testing.assert_array_equal(obs, raw_reset(keys[5]).obs)  # a fresh episode, seeded by key
    assert int(state.time) == 0 and float(jnp.abs(obs).max()) <= 0.01
    assert not np.allclose(obs, info["final_observation"])


def _push_until_done(step, state, params, limit: int = 300):
    """Steps with the action +1 until an episode ends; returns (steps, last step's outputs)."""
    push = jnp.ones((1,))
    for t in range(1, limit + 1):
        out = step(jax.random.PRNGKey(t), state, push, params)
        state = out[1]
        if bool(out[3]) or bool(out[4]):
            return t, out
    raise AssertionError(f"no episode end in {limit} steps")


@pytest.mark.timeout(120)
def test_falling_over_terminates_even_on_the_limit_step(pendulum):
    env, reset, step, raw_reset, raw_step = pendulum
    params = env.default_params
    _, start = reset(jax.random.PRNGKey(3), params)
    fell, (obs, state, _, terminated, truncated, info) = _push_until_done(step, start, params)
    assert 1 < fell < 300 and bool(terminated) and not bool(truncated)
    assert abs(float(info["final_observation"][1])) > 0.2  # the pole angle brax ends on
    raw = raw_reset(jax.random.PRNGKey(3))
    for _ in range(fell):
        raw = raw_step(raw, jnp.ones((1,)))
    assert bool(raw.done)
    np.testing.assert_allclose(info["final_observation"], raw.obs, rtol=1e-5, atol=1e-6)
    assert int(state.time) == 0 and float(jnp.abs(obs).max()) <= 0.01
    # With the time limit on the very step it falls, the fall still counts as the termination.
    again, (_, _, _, terminated, truncated, _) = _push_until_done(
        step, start, BraxParams(max_steps_in_episode=fell)
    )
    assert again == fell and bool(terminated) and not bool(truncated)


@pytest.mark.timeout(60)
def test_env_params_override_and_brax_episode_length_points_to_it():
    _, params = make_env(f"brax:{PENDULUM}", env_params={"max_steps_in_episode": 200})
    assert params == BraxParams(max_steps_in_episode=200)
    with pytest.raises(ConfigError, match="max_steps_in_episode: 200"):
        make_env(f"brax:{PENDULUM}", env_kwargs={"episode_length": 200})
    with pytest.raises(ConfigError, match="backend"):
        make_env(f"brax:{PENDULUM}", env_kwargs={"backend": "warp9"})


@pytest.mark.timeout(500)
def test_two_seeds_train_in_one_program_and_the_run_folder_evaluates_and_loads(tmp_path):
    out = tmp_path / "run"
    metrics = train_and_eval_two_seeds(TINY, out, episodes=3)
    assert (metrics["episodes_finished"] > 0).all()
    returns = metrics["episode_return"]
    assert (returns >= 1).all() and (returns <= 30).all()  # 1 per step, 30-step limit
    assert not np.array_equal(returns[0], returns[1])  # the seeds differ
    report = json.loads((out / "eval.json").read_text())
    returns = np.asarray(report["returns"])
    assert returns.shape == (2, 3) and (returns >= 1).all() and (returns <= 30).all()
    policy = load_policy(out, seed=1, deterministic=True)
    obs = jnp.zeros((5, 4))
    actions = policy(obs)
    assert actions.shape == (5, 1) and np.isfinite(np.asarray(actions)).all()
    np.testing.assert_array_equal(jax.jit(policy)(obs), actions)


@pytest.mark.timeout(60)
def test_a_misspelt_id_is_one_line_with_close_matches_and_exit_2(tmp_path, capsys):
    for build in (lambda: make_env("brax:hoper"), lambda: make_train(TINY.replace(env_id="brax:hoper"))):  # fmt: skip
        with pytest.raises(ConfigError) as error:
            build()
        message = str(error.value)
        assert "\n" not in message and "unknown brax environment 'hoper'" in message
        assert "brax:hopper" in message
    assert_train_refuses_in_one_line("brax:hoper", "brax:hopper", tmp_path / "r", capsys)
