"""The xland-minigrid adapter: shapes and dtypes, a time-limit episode and a goal episode checked
against xminigrid itself, training over seeds, a run folder evaluated and loaded, unknown ids."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xminigrid
from xminigrid.types import StepType

from family_checks import (
    assert_discrete_policy_loads,
    assert_train_refuses_in_one_line,
    tiny_config,
    train_and_eval_two_seeds,
)
from purejaxppo import ConfigError
from purejaxppo.envs import check_protocol, make_env
from purejaxppo.envs.xminigrid_family import env_ids, make

NAME = "MiniGrid-Empty-6x6"
ENV_ID = f"xminigrid:{NAME}"
FORWARD, TURN_RIGHT, TURN_LEFT = 0, 1, 2
# The agent starts at (1, 1) facing right, the goal is at (4, 4): three right, turn down,
# three down.
TO_GOAL = (FORWARD,) * 3 + (TURN_RIGHT,) + (FORWARD,) * 3
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


def _raw(actions, max_steps, seed=0):
    """xminigrid's own (observation, step type, discount) along `actions`."""
    key = jax.random.PRNGKey(seed)
    raw, raw_params = xminigrid.make(NAME, max_steps=max_steps)
    timestep = raw.reset(raw_params, key)
    step = jax.jit(raw.step)
    seen = []
    for action in actions:
        timestep = step(raw_params, timestep, jnp.int32(action))
        seen.append(
            (np.asarray(timestep.observation), int(timestep.step_type), float(timestep.discount))
        )
    return seen


@pytest.mark.timeout(120)
def test_registry_reset_and_step_shapes_and_dtypes():
    assert NAME in env_ids()
    env, params = make(NAME)
    assert params.max_steps_in_episode == 4 * 6 * 6  # MiniGrid's formula, xminigrid's default
    check_protocol(env, params, ENV_ID)
    assert env.action_space(params).n == 6
    obs, outs = _steps(env, params, (FORWARD,))
    assert obs.shape == (7, 7, 2) == env.observation_space(params).shape and obs.dtype == jnp.uint8
    next_obs, _, reward, terminated, truncated, info = outs[0]
    assert next_obs.shape == info["final_observation"].shape == (7, 7, 2)
    assert next_obs.dtype == info["final_observation"].dtype == jnp.uint8
    assert reward.shape == terminated.shape == truncated.shape == ()
    assert reward.dtype == jnp.float32
    assert terminated.dtype == truncated.dtype == jnp.bool_
    small, small_params = make(NAME, view_size=5)
    assert small.reset(jax.random.PRNGKey(0), small_params)[0].shape == (5, 5, 2)


@pytest.mark.timeout(120)
def test_time_limit_truncates_with_xminigrid_final_observation_and_resets():
    env, params = make(NAME)
    params = params.replace(max_steps_in_episode=5)
    actions = (TURN_LEFT,) * 6  # turning in place never reaches the goal
    first_obs, outs = _steps(env, params, actions)
    raw = _raw(actions[:5], max_steps=5)
    for t, (obs, state, reward, terminated, truncated, info) in enumerate(outs[:4], start=1):
        assert not terminated and not truncated and float(reward) == 0.0, t
        np.testing.assert_array_equal(obs, raw[t - 1][0])
        np.testing.assert_array_equal(info["final_observation"], obs)
        assert int(state.state.step_num) == t
    obs, state, reward, terminated, truncated, info = outs[4]
    assert bool(truncated) and not bool(terminated) and float(reward) == 0.0
    assert raw[4][1:] == (int(StepType.LAST), 1.0)
    np.testing.assert_array_equal(info["final_observation"], raw[4][0])
    fresh_obs, _ = env.reset(jax.random.PRNGKey(9), params)
    np.testing.assert_array_equal(obs, fresh_obs)
    np.testing.assert_array_equal(obs, first_obs)
    assert int(state.state.step_num) == 0 and int(state.step_type) == int(StepType.FIRST)
    assert not (info["final_observation"] == obs).all()  # turned once more: another view
    assert not outs[5][3] and not outs[5][4] and int(outs[5][1].state.step_num) == 1


@pytest.mark.timeout(120)
def test_reaching_the_goal_terminates_with_a_positive_reward():
    env, params = make(NAME)
    _, outs = _steps(env, params, TO_GOAL)
    raw = _raw(TO_GOAL, max_steps=params.max_steps_in_episode)
    assert [bool(o[3]) for o in outs] == [False] * 6 + [True]
    assert not any(bool(o[4]) for o in outs)
    assert [float(o[2]) for o in outs[:6]] == [0.0] * 6
    # xminigrid's reward at the goal: 1 - 0.9 * steps / max_steps
    assert float(outs[6][2]) == pytest.approx(1.0 - 0.9 * 7 / 144)
    assert raw[6][1:] == (int(StepType.LAST), 0.0)
    np.testing.assert_array_equal(outs[6][5]["final_observation"], raw[6][0])
    assert int(outs[6][1].state.step_num) == 0


@pytest.mark.timeout(120)
def test_env_params_set_the_time_limit_and_reward_scale_through_make_env():
    env, params = make_env(ENV_ID, env_params={"max_steps_in_episode": 14})
    assert params.max_steps_in_episode == 14 and params.resolved().max_steps == 14
    _, outs = _steps(env, params, TO_GOAL)
    assert bool(outs[6][3]) and float(outs[6][2]) == pytest.approx(1.0 - 0.9 * 7 / 14)
    assert int(outs[6][5]["episode_length"]) == 7


@pytest.mark.timeout(500)
def test_two_seeds_train_in_one_program_and_the_run_folder_evaluates_and_loads(tmp_path, capsys):
    out = tmp_path / "run"
    train_and_eval_two_seeds(TINY, out, episodes=2)
    env, params = make(NAME)
    obs, _ = env.reset(jax.random.PRNGKey(0), params)
    assert_discrete_policy_loads(out, obs, num_actions=6)
    capsys.readouterr()


@pytest.mark.timeout(120)
def test_unknown_id_is_one_line_with_close_ids_and_cli_exits_2(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"unknown xminigrid environment 'MiniGrid-Empty-6x6-v0';"
                       r" close ids: xminigrid:MiniGrid-Empty-6x6") as error:  # fmt: skip
        make_env("xminigrid:MiniGrid-Empty-6x6-v0")
    assert "\n" not in str(error.value)
    assert_train_refuses_in_one_line(
        "xminigrid:MiniGrid-Emty-6x6", "xminigrid:MiniGrid-Empty-6x6", tmp_path / "bad", capsys
    )
    with pytest.raises(ConfigError, match="env_kwargs .* rejected by xminigrid:MiniGrid-Empty-6x6"):
        make_env(ENV_ID, env_kwargs={"size": 6})
