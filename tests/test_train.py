"""Contracts of `make_train`: shapes, determinism, vmap over seeds and settings, no recompiles."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo import Hyperparams, make_train, train_seeds
from purejaxppo.config import hparams_as_float32
from purejaxppo.parallel import seed_keys
from purejaxppo.rollout import collect_rollout

pytestmark = pytest.mark.timeout(300)


def test_rollout_shapes(tiny_config, tiny_train):
    hp = tiny_config.hparams
    state = tiny_train.init(jax.random.PRNGKey(0), hp)
    _, traj = collect_rollout(
        state,
        tiny_train.env,
        tiny_train.env_params,
        tiny_train.network.apply,
        tiny_config.num_steps,
        hp.gamma,
        normalize_observations=False,
        normalize_rewards=False,
        obs_clip=10.0,
        reward_clip=10.0,
    )
    t, n = tiny_config.num_steps, tiny_config.num_envs
    chex.assert_shape(traj.obs, (t, n, 4))
    for leaf in (
        traj.action,
        traj.reward,
        traj.terminated,
        traj.truncated,
        traj.value,
        traj.log_prob,
        traj.final_value,
        traj.episode_return,
        traj.episode_length,
    ):
        chex.assert_shape(leaf, (t, n))
    assert traj.terminated.dtype == jnp.bool_ and traj.truncated.dtype == jnp.bool_
    # a truncated step is never also terminated
    assert not np.any(np.asarray(traj.terminated) & np.asarray(traj.truncated))


def test_metrics_shapes_under_vmap(tiny_config, tiny_train_vmap):
    out = tiny_train_vmap(seed_keys(0, 3), tiny_config.hparams)
    for name, leaf in vars(out.metrics).items():
        assert leaf.shape == (3, tiny_config.num_updates), name
    np.testing.assert_array_equal(
        np.asarray(out.metrics.env_steps[0]),
        np.arange(1, tiny_config.num_updates + 1) * tiny_config.batch_size,
    )
    assert np.all(np.asarray(out.runner_state.update) == tiny_config.num_updates)


def test_same_key_same_bits(tiny_config, tiny_train_jit):
    key = jax.random.PRNGKey(7)
    first = tiny_train_jit(key, tiny_config.hparams)
    second = tiny_train_jit(key, tiny_config.hparams)
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    other = tiny_train_jit(jax.random.PRNGKey(8), tiny_config.hparams)
    assert not np.array_equal(
        np.asarray(first.metrics.policy_loss), np.asarray(other.metrics.policy_loss)
    )


def test_vmap_over_seeds_equals_single_runs(tiny_config, tiny_train_jit, tiny_train_vmap):
    keys = seed_keys(10, 4)
    batched = tiny_train_vmap(keys, tiny_config.hparams)
    for i in range(4):
        single = tiny_train_jit(keys[i], tiny_config.hparams)
        picked = jax.tree.map(lambda x, i=i: x[i], batched)
        chex.assert_trees_all_close(picked.metrics, single.metrics, rtol=1e-4, atol=1e-5)
        chex.assert_trees_all_close(
            picked.runner_state.params, single.runner_state.params, rtol=1e-4, atol=1e-5
        )


def test_vmap_over_seeds_and_hyperparams(tiny_config, tiny_train, tiny_train_jit):
    lrs = np.array([1e-4, 1e-3, 3e-3], np.float32)
    ents = np.array([0.0, 0.01, 0.05], np.float32)
    base = hparams_as_float32(tiny_config.hparams)
    stacked = base.replace(
        **{k: np.full(3, getattr(base, k)) for k in Hyperparams.__dataclass_fields__},
    ).replace(lr=lrs, ent_coef=ents)
    keys = seed_keys(0, 3)
    out = jax.jit(jax.vmap(tiny_train, in_axes=(0, 0)))(keys, stacked)
    for i in range(3):
        single = tiny_train_jit(keys[i], base.replace(lr=lrs[i], ent_coef=ents[i]))
        chex.assert_trees_all_close(
            jax.tree.map(lambda x, i=i: x[i], out.metrics), single.metrics, rtol=1e-4, atol=1e-5
        )
    assert np.allclose(np.asarray(out.metrics.learning_rate[:, 0]), lrs)


def test_new_keys_and_hyperparams_compile_nothing(tiny_config):
    train = jax.jit(jax.vmap(make_train(tiny_config), in_axes=(0, None)))
    hp = hparams_as_float32(tiny_config.hparams)
    train(seed_keys(0, 2), hp)
    assert train._cache_size() == 1
    train(seed_keys(5, 2), hp.replace(lr=np.float32(1e-3), gamma=np.float32(0.9)))
    train(seed_keys(9, 2), hp.replace(clip_eps=np.float32(0.1), target_kl=np.float32(0.02)))
    assert train._cache_size() == 1


def test_train_seeds_result_and_reuse(tiny_config):
    first = train_seeds(tiny_config, num_seeds=2, seed=3)
    assert first.metrics["episode_return"].shape == (2, tiny_config.num_updates)
    assert list(first.seeds) == [3, 4]
    again = train_seeds(
        tiny_config, num_seeds=2, seed=3, hparams=tiny_config.hparams.replace(lr=1e-3)
    )
    assert again.compile_seconds == 0.0  # the compiled program was reused
    # run i of a multi-seed call is reproduced by a single call with seed + i
    alone = train_seeds(tiny_config, num_seeds=1, seed=4)
    np.testing.assert_allclose(
        alone.metrics["policy_loss"][0], first.metrics["policy_loss"][1], rtol=1e-4, atol=1e-6
    )
    summary = first.summary()
    assert summary["num_seeds"] == 2 and len(summary["final_returns"]) == 2


def test_episode_metrics_are_nan_when_no_episode_finished():
    from purejaxppo import PPOConfig

    # Endless probe truncates after 1000 steps; with 16-step updates nothing finishes early on.
    config = PPOConfig(
        env_id="ProbeEndless-v0",
        env_kwargs={"max_steps": 1000},
        num_envs=2,
        num_steps=16,
        total_timesteps=64,
        num_minibatches=2,
        update_epochs=1,
    )
    out = jax.jit(make_train(config))(jax.random.PRNGKey(0), config.hparams)
    assert np.all(np.asarray(out.metrics.episodes_finished) == 0)
    assert np.all(np.isnan(np.asarray(out.metrics.episode_return)))


def test_memory_does_not_grow_with_env_steps(tiny_config):
    """The output's size depends on the number of updates, not on steps per update."""
    small = tiny_config
    big = tiny_config.replace(num_steps=256, total_timesteps=6 * 4 * 256)
    sizes = []
    for config in (small, big):
        out = jax.eval_shape(make_train(config), jax.random.PRNGKey(0), config.hparams)
        sizes.append(sum(x.size for x in jax.tree.leaves(out.metrics)))
    assert sizes[0] == sizes[1]
