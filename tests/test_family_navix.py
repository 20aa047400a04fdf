"""The navix adapter: shapes and dtypes, a time-limit episode and a goal episode checked against
navix itself, training over seeds, a run folder evaluated and loaded, unknown ids."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import navix
import numpy as np
import pytest

from family_checks import (
    assert_discrete_policy_loads,
    assert_train_refuses_in_one_line,
    tiny_config,
    train_and_eval_two_seeds,
)
from purejaxppo import ConfigError
from purejaxppo.envs import check_protocol, make_env
from purejaxppo.envs.navix_family import env_ids, make

NAME = "Navix-Empty-5x5-v0"
ENV_ID = f"navix:{NAME}"
TURN_LEFT, TURN_RIGHT, FORWARD = 0, 1, 2
# The agent starts at (1, 1) facing east, the goal is at (3, 3): two east, turn south, two south.
TO_GOAL = (FORWARD, FORWARD, TURN_RIGHT, FORWARD, FORWARD)
TINY = tiny_config(ENV_ID, max_steps_in_episode=20)


def _steps(env, params, actions, seed=0):
    """(first obs, [(obs, state, reward, terminated, truncated, info), ...]) after `actions`."""
    key = jax.random.PRNGKey(seed)
    obs, state = env.reset(key, params)
    step = jax.jit(env.step)
    outs = []
    for i, action in enumerate(actions):
        out = step(jax.random.fold_in(key, i), state, jnp.int32(action), params)
        state = out[1]
        outs.append(out)
    return obs, outs


def _raw_observations(actions, max_steps, seed=0):
    """navix's own observations and step types along `actions` (its public API)."""
    key = jax.random.PRNGKey(seed)
    raw = navix.make(
        NAME, max_steps=max_steps, observation_fn=navix.observations.symbolic_first_person
    )
    timestep = raw.reset(key)
    step = jax.jit(raw.step)
    seen = []
    for action in actions:
        timestep = step(timestep, jnp.int32(action))
        seen.append((np.asarray(timestep.observation), int(timestep.step_type)))
    return seen


@pytest.mark.timeout(120)
def test_registry_reset_and_step_shapes_and_dtypes():
    assert NAME in env_ids()
    env, params = make(NAME)
    assert params.max_steps_in_episode == 100  # navix.make's default
    check_protocol(env, params, ENV_ID)
    assert env.action_space(params).n == 7
    obs, outs = _steps(env, params, (FORWARD,))
    assert obs.shape == (7, 7, 3) == env.observation_space(params).shape and obs.dtype == jnp.uint8
    next_obs, _, reward, terminated, truncated, info = outs[0]
    assert next_obs.shape == info["final_observation"].shape == (7, 7, 3)
    assert next_obs.dtype == info["final_observation"].dtype == jnp.uint8
    assert reward.shape == terminated.shape == truncated.shape == ()
    assert reward.dtype == jnp.float32
    assert terminated.dtype == truncated.dtype == jnp.bool_
    full, full_params = make(NAME, observation_fn="symbolic")
    assert full.reset(jax.random.PRNGKey(0), full_params)[0].shape == (5, 5, 3)


@pytest.mark.timeout(120)
def test_time_limit_truncates_with_navix_final_observation_and_resets():
    env, params = make(NAME)
    params = params.replace(max_steps_in_episode=5)
    actions = (TURN_LEFT,) * 6  # turning in place never reaches the goal
    first_obs, outs = _steps(env, params, actions)
    raw = _raw_observations(actions[:5], max_steps=5)
    for t, (obs, state, reward, terminated, truncated, info) in enumerate(outs[:4], start=1):
        assert not terminated and not truncated and float(reward) == 0.0, t
        np.testing.assert_array_equal(obs, raw[t - 1][0])
        np.testing.assert_array_equal(info["final_observation"], obs)
        assert int(state.t) == t
    obs, state, reward, terminated, truncated, info = outs[4]
    assert bool(truncated) and not bool(terminated) and float(reward) == 0.0
    assert raw[4][1] == navix.StepType.TRUNCATION
    np.testing.assert_array_equal(info["final_observation"], raw[4][0])
    fresh_obs, fresh = env.reset(jax.random.PRNGKey(9), params)
    np.testing.assert_array_equal(obs, fresh_obs)
    np.testing.assert_array_equal(obs, first_obs)
    assert int(state.t) == 0 and int(state.step_type) == 0
    assert not (info["final_observation"] == obs).all()  # turned three times: another view
    assert not outs[5][3] and not outs[5][4] and int(outs[5][1].t) == 1  # a new episode runs


@pytest.mark.timeout(120)
def test_reaching_the_goal_terminates_with_a_positive_reward():
    env, params = make(NAME)
    _, outs = _steps(env, params, TO_GOAL)
    raw = _raw_observations(TO_GOAL, max_steps=100)
    assert [bool(o[3]) for o in outs] == [False] * 4 + [True]
    assert not any(bool(o[4]) for o in outs)
    assert [float(o[2]) for o in outs[:4]] == [0.0] * 4 and float(outs[4][2]) > 0.0
    assert raw[4][1] == navix.StepType.TERMINATION
    np.testing.assert_array_equal(outs[4][5]["final_observation"], raw[4][0])
    assert int(outs[4][1].t) == 0


@pytest.mark.timeout(120)
def test_env_params_set_the_time_limit_through_make_env():
    env, params = make_env(ENV_ID, env_params={"max_steps_in_episode": 3})
    assert params.max_steps_in_episode == 3
    _, outs = _steps(env, params, (TURN_LEFT,) * 3)
    assert bool(outs[2][4]) and int(outs[2][5]["episode_length"]) == 3


@pytest.mark.timeout(500)
def test_two_seeds_train_in_one_program_and_the_run_folder_evaluates_and_loads(tmp_path, capsys):
    out = tmp_path / "run"
    train_and_eval_two_seeds(TINY, out, episodes=2)
    env, params = make(NAME)
    obs, _ = env.reset(jax.random.PRNGKey(0), params)
    assert_discrete_policy_loads(out, obs, num_actions=7)
    capsys.readouterr()


@pytest.mark.timeout(120)
def test_unknown_id_is_one_line_with_close_ids_and_cli_exits_2(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"unknown navix environment 'Navix-Empty-5x5'; close "
                       r"ids: navix:Navix-Empty-5x5-v0") as error:  # fmt: skip
        make_env("navix:Navix-Empty-5x5")
    assert "\n" not in str(error.value)
    assert_train_refuses_in_one_line(
        "navix:Navix-Emty-5x5-v0", "navix:Navix-Empty-5x5-v0", tmp_path / "bad", capsys
    )
    with pytest.raises(ConfigError, match="observation_fn 'pixels' is not one of"):
        make_env(ENV_ID, env_kwargs={"observation_fn": "pixels"})
