"""The craftax adapter: shapes, exact truncation at `max_timesteps`, a real termination (the
player standing in lava), training over 2 seeds with evaluation to craftax's own time limit,
`eval` and export through a `craftax:` id."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("craftax")

from craftax.craftax_classic.constants import BlockType  # noqa: E402

from purejaxppo import ConfigError, load_policy  # noqa: E402
from purejaxppo.cli import main  # noqa: E402
from purejaxppo.envs import check_protocol, make_env  # noqa: E402
from purejaxppo.envs.craftax_family import env_ids, make  # noqa: E402
from purejaxppo.io.files import read_metrics_csv  # noqa: E402

CLASSIC = "Craftax-Classic-Symbolic-v1"
OBS_DIM = 7 * 9 * (len(BlockType) + 4) + 22  # local map with mobs, then inventory and status
NOOP = jnp.int32(0)


@pytest.fixture(scope="module")
def classic():
    """(adapter, its params, jitted adapter reset, jitted adapter step, the raw craftax env)."""
    env, params = make(CLASSIC)
    return env, params, jax.jit(env.reset), jax.jit(env.step), env.inner


@pytest.mark.timeout(120)
def test_every_id_is_a_craftax_name_and_the_params_carry_the_time_limit():
    assert env_ids() == [
        "Craftax-Classic-Symbolic-v1",
        "Craftax-Classic-Pixels-v1",
        "Craftax-Symbolic-v1",
        "Craftax-Pixels-v1",
    ]
    for name in ("Craftax-Classic-Symbolic-v1", "Craftax-Symbolic-v1"):
        # (the pixel ones render textures, cached on disk after minutes of a first build)
        env, params = make(name)
        assert env.name == name and params.max_timesteps > 0
        assert params.replace(max_timesteps=7).max_timesteps == 7
    with pytest.raises(TypeError):
        make(CLASSIC, no_such_static_field=1)


@pytest.mark.timeout(300)
def test_reset_and_step_follow_the_protocol(classic):
    env, params, reset, step, _ = classic
    check_protocol(env, params, f"craftax:{CLASSIC}")
    obs, state = reset(jax.random.PRNGKey(0), params)
    assert obs.shape == (OBS_DIM,) and obs.dtype == jnp.float32
    assert env.action_space(params).n == 17
    obs, state, reward, terminated, truncated, info = step(
        jax.random.PRNGKey(1), state, NOOP, params
    )
    assert obs.shape == (OBS_DIM,) and info["final_observation"].shape == (OBS_DIM,)
    assert reward.dtype == jnp.float32 and reward.shape == ()
    assert terminated.dtype == jnp.bool_ and truncated.dtype == jnp.bool_
    assert terminated.shape == truncated.shape == ()
    assert "discount" not in info and "score" in info


@pytest.mark.timeout(300)
def test_the_time_limit_is_a_truncation_with_the_raw_final_observation(classic):
    env, params, reset, step, raw = classic
    params = params.replace(max_timesteps=3)
    key = jax.random.PRNGKey(3)
    obs, state = reset(key, params)
    raw_state = state
    for t in range(3):
        key, step_key = jax.random.split(key)
        obs, state, _, terminated, truncated, info = step(step_key, state, NOOP, params)
        raw_key, reset_key = jax.random.split(step_key)  # the adapter's own split
        raw_obs, raw_state, _, raw_done, _ = raw.step(raw_key, raw_state, NOOP, params)
        assert not bool(terminated)
        assert bool(truncated) == bool(raw_done) == (t == 2)
    np.testing.assert_array_equal(info["final_observation"], raw_obs)
    fresh_obs, fresh_state = raw.reset(reset_key, params)
    np.testing.assert_array_equal(obs, fresh_obs)
    assert int(state.timestep) == 0 == int(fresh_state.timestep)


@pytest.mark.timeout(300)
def test_standing_in_lava_is_a_termination_even_at_the_time_limit(classic):
    """No death is reachable in a few steps from a fresh world, so the test puts lava under
    the player (a state craftax reaches when one walks into lava) and waits one step."""
    env, params, reset, step, raw = classic
    _, state = reset(jax.random.PRNGKey(4), params)
    row, col = state.player_position
    state = state.replace(map=state.map.at[row, col].set(BlockType.LAVA.value))
    key = jax.random.PRNGKey(5)
    raw_key, _ = jax.random.split(key)
    raw_obs, _, _, raw_done, _ = raw.step(raw_key, state, NOOP, params)
    assert bool(raw_done)
    for limit in (params.max_timesteps, 1):  # 1: the time limit falls on the same step
        obs, after, _, terminated, truncated, info = step(
            key, state, NOOP, params.replace(max_timesteps=limit)
        )
        assert bool(terminated) and not bool(truncated)
        np.testing.assert_array_equal(info["final_observation"], raw_obs)
        assert int(after.timestep) == 0


@pytest.mark.timeout(300)
def test_environments_ending_together_share_the_pooled_worlds_in_rank_order(classic):
    """8 vmapped environments with reset_ratio 4 generate 2 worlds in a step (not 8). All 8
    reach the time limit together: done environment i starts the world made from the reset key
    of environment i % 2, and each keeps its own exact final observation."""
    _, _, _, _, raw = classic
    env, params = make(CLASSIC, reset_ratio=4)
    params = params.replace(max_timesteps=1)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(11), 8), params
    )
    keys = jax.random.split(jax.random.PRNGKey(12), 8)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    obs, after, _, terminated, truncated, info = step(keys, states, jnp.zeros(8, jnp.int32), params)
    assert bool(truncated.all()) and not bool(terminated.any())
    for i in range(8):
        raw_key, _ = jax.random.split(keys[i])  # the adapter's own split
        state_i = jax.tree.map(lambda x: x[i], states)  # noqa: B023
        np.testing.assert_array_equal(
            info["final_observation"][i], raw.step(raw_key, state_i, NOOP, params)[0]
        )
        _, reset_key = jax.random.split(keys[i % 2])
        np.testing.assert_array_equal(obs[i], raw.reset(reset_key, params)[0])
        assert int(after.timestep[i]) == 0
    assert not np.array_equal(obs[0], obs[1])  # two different worlds
    with pytest.raises(ConfigError, match="reset_ratio must be an integer >= 1"):
        make_env(f"craftax:{CLASSIC}", env_kwargs={"reset_ratio": 0})


@pytest.mark.timeout(600)
def test_two_seeds_train_evaluate_to_the_time_limit_and_load(tmp_path, capsys):
    """One vmapped run of 2 seeds (the CLI's program), with an in-training evaluation, then
    `eval` of its folder and `load_policy`. craftax's limit is `max_timesteps`, which the
    adapter reports as its `episode_limit`: both evaluations scan exactly those 6 steps."""
    run = tmp_path / "run"
    sets = [f"env_id=craftax:{CLASSIC}", "num_envs=2", "num_steps=8", "total_timesteps=32",
            "update_epochs=1", "num_minibatches=1", "hidden_sizes=[16]",
            "env_params={max_timesteps: 6}", "eval_every=2", "eval_episodes=2"]  # fmt: skip
    args = [arg for s in sets for arg in ("--set", s)]
    assert main(["train", *args, "--seeds", "2", "--quiet", "--out", str(run)]) == 0
    metrics = read_metrics_csv(run / "metrics.csv")
    assert metrics["value_loss"].shape == (2, 2)
    assert np.all(np.isfinite(metrics["value_loss"]))
    np.testing.assert_array_equal(metrics["eval_length"][:, 1], [6.0, 6.0])  # no death in 6
    assert main(["eval", str(run), "--episodes", "2"]) == 0
    assert "return" in capsys.readouterr().out.lower()
    report = json.loads((run / "eval.json").read_text())
    assert report["mean_length"] == 6.0 and report["unfinished_episodes"] == 0
    policy = load_policy(run, seed=1, deterministic=True)
    env, params = make_env(f"craftax:{CLASSIC}")
    assert env.episode_limit(params) == params.max_timesteps == 10_000
    obs, _ = env.reset(jax.random.PRNGKey(0), params)
    action = int(policy(obs))
    assert 0 <= action < 17


def test_an_unknown_craftax_id_is_one_line_with_close_ids_and_exit_2(tmp_path, capsys):
    with pytest.raises(ConfigError) as error:
        make_env("craftax:Craftax-Clasic-Symbolic-v1")
    message = str(error.value)
    assert "close ids: craftax:Craftax-Classic-Symbolic-v1" in message and "\n" not in message
    code = main(["train", "--set", "env_id=craftax:Craftax-Clasic-Symbolic-v1", "--out",
                 str(tmp_path / "run")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Craftax-Clasic" in err
