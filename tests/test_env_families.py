"""Environment ids with a family prefix, their one-line errors, and the protocol's pieces that
every adapter relies on: pytree observations flattened, MultiDiscrete, the action-mask check."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import environment, spaces

from purejaxppo import ConfigError, PPOConfig, register_env, train_seeds
from purejaxppo.cli import main
from purejaxppo.envs import FAMILIES, MultiDiscrete, check_protocol, flatten_observation, make_env
from purejaxppo.envs.families import Family

pytestmark = pytest.mark.timeout(300)


def test_an_unknown_family_is_one_line_listing_the_families_and_exit_2(capsys, tmp_path):
    with pytest.raises(ConfigError) as error:
        make_env("navx:Navix-Empty-5x5-v0")
    message = str(error.value)
    assert "unknown environment family 'navx'" in message and "did you mean 'navix'" in message
    assert all(name in message for name in FAMILIES) and "\n" not in message
    code = main(
        ["train", "--set", "env_id=navx:Navix-Empty-5x5-v0", "--out", str(tmp_path / "run")]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "navx" in err
    assert not (tmp_path / "run").exists()


def test_a_family_whose_extra_is_missing_names_the_pip_command(monkeypatch):
    fake = Family("fake", "fake_family", "fakepkg", "fake", "fake:Thing-v0")
    monkeypatch.setitem(FAMILIES, "fake", fake)
    with pytest.raises(ConfigError) as error:
        make_env("fake:Thing-v0")
    message = str(error.value)
    assert "not_an_installed_family_package is not installed" in message
    assert 'pip install "purejaxppo[fake]"' in message


def test_an_unknown_id_within_a_family_names_close_ids_from_that_family():
    with pytest.raises(ConfigError, match=r"unknown gymnax environment 'CartPol-v1'; close ids: "
                       r"gymnax:CartPole-v1"):  # fmt: skip
        make_env("gymnax:CartPol-v1")


def test_the_gymnax_prefix_names_the_same_environment_as_the_bare_id():
    config = PPOConfig(num_envs=4, num_steps=16, total_timesteps=128)
    bare = train_seeds(config, 1, 0).metrics["value_loss"]
    prefixed = train_seeds(config.replace(env_id="gymnax:CartPole-v1"), 1, 0).metrics["value_loss"]
    np.testing.assert_array_equal(bare, prefixed)


def test_register_env_refuses_an_id_with_a_family_colon():
    with pytest.raises(ConfigError, match="has a ':'"):
        register_env("mine:Corridor-v0", lambda: None)


def test_flatten_observation_ravels_leaves_in_tree_order():
    obs = {"b": jnp.array([1.0, 2.0]), "a": jnp.array([[3]], jnp.int32)}  # keys sort: a, b
    np.testing.assert_array_equal(np.asarray(flatten_observation(obs)), [3.0, 1.0, 2.0])
    assert flatten_observation(obs).dtype == jnp.float32


@struct.dataclass
class PairState(environment.EnvState):
    position: jax.Array


class DictObsCorridor(environment.Environment):
    """A corridor of 4 cells whose observation is a dict: {"position": [1], "onehot": [4]}."""

    @property
    def default_params(self) -> environment.EnvParams:
        return environment.EnvParams(max_steps_in_episode=10)

    def reset_env(self, key, params):
        state = PairState(time=0, position=jnp.int32(0))
        return self._obs(state), state

    def step_env(self, key, state, action, params):
        position = jnp.clip(state.position + 2 * action - 1, 0, 3)
        state = PairState(time=state.time + 1, position=position)
        done = position == 3
        return self._obs(state), state, jnp.where(done, 1.0, 0.0), done, {}

    def _obs(self, state):
        return {"position": state.position[None] / 3.0, "onehot": jax.nn.one_hot(state.position, 4)}

    def action_space(self, params=None):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Dict({"position": spaces.Box(0, 1, (1,)), "onehot": spaces.Box(0, 1, (4,))})


def test_dict_observations_are_flattened_for_training_and_in_the_final_observation():
    register_env("DictObsCorridor-v0", DictObsCorridor, overwrite=True)
    env, params = make_env("DictObsCorridor-v0")
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    # tree order: "onehot" (4) then "position" (1)
    np.testing.assert_array_equal(np.asarray(obs), [1, 0, 0, 0, 0])
    for _ in range(3):
        obs, state, _, terminated, _, info = env.step(jax.random.PRNGKey(1), state, 1, params)
    assert bool(terminated)
    np.testing.assert_array_equal(np.asarray(info["final_observation"]), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(np.asarray(obs), [1, 0, 0, 0, 0])  # auto-reset
    config = PPOConfig(env_id="DictObsCorridor-v0", num_envs=4, num_steps=16, total_timesteps=2048)
    result = train_seeds(config, 2, 0)
    assert np.isfinite(result.metrics["value_loss"]).all()


def test_multidiscrete_samples_stay_in_their_ranges():
    space = MultiDiscrete([2, 5, 3])
    samples = jax.vmap(space.sample)(jax.random.split(jax.random.PRNGKey(0), 2000))
    assert samples.shape == (2000, 3) and samples.dtype == jnp.int32
    assert np.asarray(samples).max(axis=0).tolist() == [1, 4, 2]
    assert np.asarray(samples).min(axis=0).tolist() == [0, 0, 0]
    assert bool(jax.vmap(space.contains)(samples).all())
    with pytest.raises(ValueError, match="positive sizes"):
        MultiDiscrete([2, 0])


class WrongMaskCorridor(DictObsCorridor):
    def action_mask(self, state, params):
        return jnp.ones((3,), bool)  # the action space has 2 actions


def test_an_action_mask_of_the_wrong_shape_is_refused_in_one_line():
    env = WrongMaskCorridor()
    with pytest.raises(ConfigError, match=r"action_mask\(\) has shape \[3\]; the action space "
                       r"needs \[2\]"):  # fmt: skip
        check_protocol(env, env.default_params, "WrongMask-v0")


def test_families_are_imported_only_when_used():
    """A gymnax run in a fresh process imports none of the other families' packages."""
    import subprocess
    import sys

    code = (
        "import sys; from purejaxppo import PPOConfig, make_train; "
        "make_train(PPOConfig(env_id='gymnax:Acrobot-v1', num_envs=2, num_steps=8, "
        "total_timesteps=16)); "
        "print(sorted(m for m in ('brax', 'navix', 'craftax', 'jumanji', 'xminigrid') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
