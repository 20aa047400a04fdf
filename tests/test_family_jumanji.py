"""The jumanji adapter: Snake's shapes and action mask, exact truncation at the adapter's time
limit, a real termination (the snake leaving the grid), a multi-discrete environment, and
training, evaluation and export through a `jumanji:` id."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("jumanji")

import jumanji  # noqa: E402

from purejaxppo import ConfigError, load_policy  # noqa: E402
from purejaxppo.cli import main  # noqa: E402
from purejaxppo.envs import MultiDiscrete, check_protocol, make_env  # noqa: E402
from purejaxppo.envs.jumanji_family import env_ids, make  # noqa: E402
from purejaxppo.io.files import read_metrics_csv  # noqa: E402

UP, DOWN = jnp.int32(0), jnp.int32(2)
GRID = (12, 12, 5)


@pytest.fixture(scope="module")
def snake():
    """(adapter, its params, jitted adapter reset, jitted adapter step, jitted raw jumanji
    Snake with its own default time limit: reset, step)."""
    env, params = make("Snake-v1")
    raw = jumanji.make("Snake-v1")
    return env, params, jax.jit(env.reset), jax.jit(env.step), jax.jit(raw.reset), jax.jit(raw.step)


def _assert_same_observation(adapter_obs: dict, raw_obs) -> None:
    assert set(adapter_obs) == {"grid", "step_count"}  # action_mask left the observation
    np.testing.assert_array_equal(adapter_obs["grid"], raw_obs.grid)
    np.testing.assert_array_equal(adapter_obs["step_count"], raw_obs.step_count)


@pytest.mark.timeout(120)
def test_ids_are_jumanjis_and_the_snake_time_limit_moved_to_params():
    assert set(env_ids()) == jumanji.registered_environments() and "Snake-v1" in env_ids()
    env, params = make("Snake-v1")
    assert params.max_steps_in_episode == 4000  # Snake's own default time_limit
    assert params.replace(max_steps_in_episode=5).max_steps_in_episode == 5
    assert make("Snake-v1", time_limit=50)[1].max_steps_in_episode == 50
    assert env.action_space(params).n == 4


@pytest.mark.timeout(300)
def test_snake_reset_step_and_action_mask_follow_the_protocol(snake):
    env, params, reset, step, raw_reset, _ = snake
    check_protocol(env, params, "jumanji:Snake-v1")
    key = jax.random.PRNGKey(0)
    obs, state = reset(key, params)
    assert obs["grid"].shape == GRID and obs["grid"].dtype == jnp.float32
    assert obs["step_count"].shape == () and obs["step_count"].dtype == jnp.int32
    mask = env.action_mask(state, params)
    assert mask.shape == (4,) and mask.dtype == jnp.bool_
    np.testing.assert_array_equal(mask, raw_reset(key)[1].observation.action_mask)
    obs, state, reward, terminated, truncated, info = step(key, state, UP, params)
    assert reward.shape == () and reward.dtype == jnp.float32
    assert terminated.dtype == jnp.bool_ and truncated.dtype == jnp.bool_
    assert set(info["final_observation"]) == {"grid", "step_count"}
    wrapped, wrapped_params = make_env("jumanji:Snake-v1")
    flat, _ = wrapped.reset(key, wrapped_params)
    assert flat.shape == (int(np.prod(GRID)) + 1,) and wrapped.has_action_mask


@pytest.mark.timeout(300)
def test_the_mask_forbids_leaving_the_grid_at_the_top_row(snake):
    env, params, reset, step, _, _ = snake
    key = jax.random.PRNGKey(1)
    obs, state = reset(key, params)
    row = int(state.env_state.head_position.row)
    for _ in range(row):  # up to the top row, always legal
        assert bool(env.action_mask(state, params)[0])
        obs, state, _, terminated, truncated, _ = step(key, state, UP, params)
        assert not bool(terminated | truncated)
    col = int(state.env_state.head_position.col)
    mask = np.asarray(env.action_mask(state, params))
    assert not mask[0] and mask[1] == (col < GRID[1] - 1) and mask[3] == (col > 0)
    assert mask[2] == (int(state.env_state.length) <= 2)  # below the head: the tail, or body


@pytest.mark.timeout(300)
def test_the_time_limit_is_a_truncation_with_the_raw_final_observation(snake):
    env, params, reset, step, raw_reset, raw_step = snake
    params = params.replace(max_steps_in_episode=3)
    key = jax.random.PRNGKey(2)
    obs, state = reset(key, params)
    raw_state, _ = raw_reset(key)
    action = UP if int(state.env_state.head_position.row) >= 3 else DOWN  # 3 legal steps
    for t in range(3):
        key, step_key = jax.random.split(key)
        obs, state, _, terminated, truncated, info = step(step_key, state, action, params)
        raw_state, raw_timestep = raw_step(raw_state, action)
        assert not bool(terminated) and not bool(raw_timestep.last())
        assert bool(truncated) == (t == 2)
    _assert_same_observation(info["final_observation"], raw_timestep.observation)
    fresh_obs, fresh_state = reset(step_key, params)
    np.testing.assert_array_equal(obs["grid"], fresh_obs["grid"])
    assert int(state.step_count) == 0 and int(obs["step_count"]) == 0


@pytest.mark.timeout(300)
def test_running_into_the_wall_is_a_termination(snake):
    env, params, reset, step, raw_reset, raw_step = snake
    key = jax.random.PRNGKey(3)
    obs, state = reset(key, params)
    raw_state, _ = raw_reset(key)
    row = int(state.env_state.head_position.row)
    for t in range(row + 1):  # the (row + 1)-th step up leaves the grid
        obs, state, reward, terminated, truncated, info = step(key, state, UP, params)
        raw_state, raw_timestep = raw_step(raw_state, UP)
        assert bool(terminated) == (t == row) and not bool(truncated)
    assert float(raw_timestep.discount) == 0.0 and float(reward) == 0.0
    _assert_same_observation(info["final_observation"], raw_timestep.observation)
    assert int(state.step_count) == 0


@pytest.mark.timeout(300)
def test_a_multi_discrete_environment_gets_a_flat_per_agent_mask():
    env, params = make("Cleaner-v0")
    space = env.action_space(params)
    assert isinstance(space, MultiDiscrete) and space.nvec == (4, 4, 4)
    check_protocol(env, params, "jumanji:Cleaner-v0")  # action_mask must be [sum(nvec)]
    _, state = jax.eval_shape(env.reset, jax.random.PRNGKey(0), params)
    assert jax.eval_shape(env.action_mask, state, params).shape == (12,)


SNAKE_SETS = ["env_id=jumanji:Snake-v1", "num_envs=2", "num_steps=8", "total_timesteps=32",
              "update_epochs=1", "num_minibatches=1", "hidden_sizes=[16]"]  # fmt: skip


@pytest.mark.timeout(600)
def test_two_seeds_train_in_one_program_and_the_run_folder_evaluates_and_loads(tmp_path, capsys):
    run = tmp_path / "run"
    sets = [*SNAKE_SETS, "env_params={max_steps_in_episode: 8}"]
    args = [arg for s in sets for arg in ("--set", s)]
    assert main(["train", *args, "--seeds", "2", "--quiet", "--out", str(run)]) == 0
    metrics = read_metrics_csv(run / "metrics.csv")  # the 2 seeds ran as one vmapped program
    assert metrics["value_loss"].shape == (2, 2)
    assert np.all(np.isfinite(metrics["value_loss"]))
    assert main(["eval", str(run), "--episodes", "2"]) == 0
    assert "jumanji:Snake-v1" in capsys.readouterr().out
    policy = load_policy(run, seed=1, deterministic=True)
    env, params = make_env("jumanji:Snake-v1")
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    mask = env.action_mask(state, params)
    assert policy.masked
    assert bool(mask[int(policy(obs, action_mask=mask))])  # a legal action


def test_an_unknown_jumanji_id_is_one_line_with_close_ids_and_exit_2(tmp_path, capsys):
    with pytest.raises(ConfigError) as error:
        make_env("jumanji:Snak-v1")
    message = str(error.value)
    assert "close ids: jumanji:Snake-v1" in message and "\n" not in message
    code = main(["train", "--set", "env_id=jumanji:Snak-v1", "--out", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Snak-v1" in err
