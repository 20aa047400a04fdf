"""`load_policy` and `load_run`: a trained policy as a pure function with the observation
normalization folded in, checked against a NumPy normalization and arg-max."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo import ConfigError, PPOConfig, make_train
from purejaxppo.export import load_policy, load_run
from purejaxppo.io.checkpoint import CheckpointStore
from purejaxppo.io.files import write_config_yaml
from purejaxppo.loading import config_to_dict
from purejaxppo.parallel import seed_keys
from test_eval import run_config, shared_run

pytestmark = pytest.mark.timeout(240)

NORMALIZED = PPOConfig(
    env_id="CartPole-v1",
    num_envs=4,
    num_steps=8,
    total_timesteps=64,
    num_minibatches=1,
    hidden_sizes=(16,),
    normalize_observations=True,
)


@pytest.fixture(scope="module")
def normalized_run(tmp_path_factory):
    """A run folder (seeds 3 and 4) whose checkpoint holds random parameters and distinctive
    observation statistics, so that folding the normalization in visibly matters."""
    out = tmp_path_factory.mktemp("normalized") / "run"
    state = jax.jit(jax.vmap(make_train(NORMALIZED).init, in_axes=(0, None)))(
        seed_keys(3, 2), NORMALIZED.hparams
    )
    rng = np.random.default_rng(0)
    state = state.replace(
        params=jax.tree.map(lambda x: rng.normal(size=x.shape).astype(np.float32), state.params),
        obs_stats=state.obs_stats.replace(
            mean=rng.normal(0.0, 2.0, (2, 4)).astype(np.float32),
            var=rng.uniform(0.05, 20.0, (2, 4)).astype(np.float32),
        ),
    )
    write_config_yaml(out / "config.yaml", config_to_dict(NORMALIZED))
    store = CheckpointStore(out / "checkpoints")
    store.save(state, {"seed": 3, "num_seeds": 2, "config": config_to_dict(NORMALIZED)})
    store.close()
    return out, jax.device_get(state)


def _observations(n: int = 256) -> np.ndarray:
    return np.random.default_rng(1).normal(0.0, 3.0, (n, 4)).astype(np.float32)


def _numpy_logits(state, index: int, obs: np.ndarray) -> np.ndarray:
    stats = state.obs_stats
    normalized = (obs - stats.mean[index]) / np.sqrt(stats.var[index] + 1e-8)
    normalized = np.clip(normalized, -NORMALIZED.obs_clip, NORMALIZED.obs_clip)
    params = jax.tree.map(lambda x: x[index], state.params)
    dist, _ = make_train(NORMALIZED).network.apply(params, jnp.asarray(normalized))
    return np.asarray(dist.logits)


@pytest.mark.parametrize("seed, index", [(3, 0), (4, 1)])
def test_greedy_policy_is_the_argmax_of_the_normalized_network(normalized_run, seed, index):
    run, state = normalized_run
    policy = load_policy(run, seed=seed, deterministic=True)
    obs = _observations()
    expected = _numpy_logits(state, index, obs).argmax(axis=-1)
    np.testing.assert_array_equal(np.asarray(policy(obs)), expected)
    np.testing.assert_array_equal(np.asarray(jax.jit(policy)(obs)), expected)
    assert int(policy(obs[0])) == expected[0]  # a single observation gives a scalar action
    raw = make_train(NORMALIZED).network.apply(policy.params, jnp.asarray(obs))[0].logits
    assert (np.asarray(raw).argmax(-1) != expected).any()  # normalization changes actions


def test_sampled_policy_follows_the_softmax(normalized_run):
    run, state = normalized_run
    policy = load_policy(run, seed=3)
    obs = _observations(4)
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    actions = np.asarray(jax.jit(jax.vmap(policy, in_axes=(None, 0)))(obs, keys))  # [4000, 4]
    logits = _numpy_logits(state, 0, obs)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose((actions == 1).mean(axis=0), probs[:, 1], atol=0.03)
    key = jax.random.PRNGKey(5)
    np.testing.assert_array_equal(policy(obs, key), policy(obs, key))
    with pytest.raises(ConfigError, match="needs a PRNG key"):
        policy(obs)


def test_unknown_seed_and_missing_folder_are_config_errors(normalized_run, tmp_path):
    run, _ = normalized_run
    with pytest.raises(ConfigError, match="trained seeds 3..4"):
        load_policy(run, seed=0)
    with pytest.raises(ConfigError, match="not a run folder"):
        load_policy(tmp_path)


@pytest.mark.timeout(240)
def test_load_run_and_policy_of_a_trained_run(tmp_path_factory):
    run_dir: Path = shared_run(tmp_path_factory)
    run = load_run(run_dir)
    assert run.config == run_config() and run.seeds == [0, 1]
    assert run.metrics["episode_return"].shape == (2, 288)
    assert run.metrics["env_steps"][0, -1] == 288 * 512
    final = load_policy(run_dir, seed=1, deterministic=True)
    earlier = load_policy(run_dir, seed=1, deterministic=True, step=144)
    assert (final.step, earlier.step) == (288, 144)
    obs = jnp.zeros((3, 4))
    assert final(obs).shape == (3,) and final(obs).dtype == jnp.int32


def test_policy_from_result_matches_the_network_greedy_action():
    import jax
    import jax.numpy as jnp
    import numpy as np

    from purejaxppo import PPOConfig, train_seeds
    from purejaxppo.export import policy_from_result
    from purejaxppo.train import make_train

    config = PPOConfig(
        num_envs=4, num_steps=32, total_timesteps=256, update_epochs=1, num_minibatches=2
    )
    result = train_seeds(config, num_seeds=2, seed=0)
    obs = jax.random.normal(jax.random.PRNGKey(1), (16, 4))
    params = jax.tree.map(lambda x: x[1], result.runner_state.params)
    logits = make_train(config).network.apply(params, obs)[0].logits
    policy = policy_from_result(result, index=1, deterministic=True)
    np.testing.assert_array_equal(np.asarray(policy(obs)), np.asarray(jnp.argmax(logits, -1)))
    with pytest.raises(ConfigError, match="out of range"):
        policy_from_result(result, index=2)
