"""Tests for the PPO update: minibatch shuffling, learning-rate schedule and KL early stop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo.config import Hyperparams
from purejaxppo.networks import NetworkSpec, PolicyNetwork, make_network
from purejaxppo.types import Transition
from purejaxppo.update import learning_rate, make_optimizer, ppo_update, shuffle_minibatches


def index_batch(size):
    idx = jnp.arange(size)
    return {"idx": idx, "derived": idx[:, None] * jnp.array([1, 10, 100]) + 7}


@pytest.mark.parametrize("size,num_minibatches", [(32, 4), (12, 3), (8, 1), (10, 10)])
def test_shuffle_is_a_permutation_split_into_minibatches(size, num_minibatches):
    out = shuffle_minibatches(jax.random.key(0), index_batch(size), num_minibatches)
    per = size // num_minibatches
    assert out["idx"].shape == (num_minibatches, per)
    assert out["derived"].shape == (num_minibatches, per, 3)
    idx = np.asarray(out["idx"])
    np.testing.assert_array_equal(np.sort(idx.ravel()), np.arange(size))  # each index once
    # The other leaf went through the same permutation.
    np.testing.assert_array_equal(
        np.asarray(out["derived"]), idx[..., None] * np.array([1, 10, 100]) + 7
    )


def test_shuffle_actually_shuffles_and_depends_on_key():
    batch = index_batch(64)
    a = np.asarray(shuffle_minibatches(jax.random.key(1), batch, 4)["idx"]).ravel()
    b = np.asarray(shuffle_minibatches(jax.random.key(2), batch, 4)["idx"]).ravel()
    again = np.asarray(shuffle_minibatches(jax.random.key(1), batch, 4)["idx"]).ravel()
    assert not np.array_equal(a, np.arange(64))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, again)


def test_shuffle_works_on_transition_and_tuple_pytrees():
    n = 16
    batch = make_transition(
        jnp.arange(n * 4, dtype=jnp.float32).reshape(n, 4),
        jnp.arange(n),
        jnp.zeros(n),
        jnp.zeros(n),
    )
    adv = jnp.arange(n, dtype=jnp.float32)
    mb, mb_adv = shuffle_minibatches(jax.random.key(3), (batch, adv), 2)
    assert mb.obs.shape == (2, 8, 4) and mb.action.shape == (2, 8) and mb_adv.shape == (2, 8)
    np.testing.assert_array_equal(np.asarray(mb.action), np.asarray(mb_adv).astype(int))
    np.testing.assert_array_equal(np.asarray(mb.obs[..., 0]), 4 * np.asarray(mb.action))


def test_learning_rate_constant_without_annealing():
    for step in (0, 1, 7, 99):
        lr = learning_rate(3e-4, jnp.int32(step), 100, anneal=False)
        np.testing.assert_allclose(lr, 3e-4, rtol=1e-6)


def test_learning_rate_linear_annealing():
    lr0, total = 0.5, 8
    steps = jnp.arange(total, dtype=jnp.int32)
    got = np.asarray(jax.vmap(lambda s: learning_rate(lr0, s, total, anneal=True))(steps))
    want = lr0 - np.arange(total) * lr0 / total  # lr at 0, down by lr / total per step
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got[-1], lr0 / total, rtol=1e-6)
    np.testing.assert_allclose(np.diff(got), -lr0 / total, rtol=1e-5)
    # Traced lr works too (hyperparameters are pytree leaves).
    traced = jax.jit(lambda lr, s: learning_rate(lr, s, total, anneal=True))(
        jnp.float32(lr0), jnp.int32(2)
    )
    np.testing.assert_allclose(traced, lr0 * (1 - 2 / total), rtol=1e-6)


def test_learning_rate_is_zero_after_the_last_step():
    """The docstring promises 0 past `total_steps` (a resumed or over-long run), never negative."""
    lr0, total = 0.5, 8
    for step in (total, total + 1, 3 * total):
        got = float(learning_rate(lr0, jnp.int32(step), total, anneal=True))
        assert got == pytest.approx(0.0, abs=1e-7), f"lr at step {step} is {got}"


# ---------------------------------------------------------------- ppo_update

B, EPOCHS, MINIBATCHES = 64, 2, 4


def make_transition(obs, action, log_prob, value):
    n = obs.shape[0]
    zeros = jnp.zeros((n,), jnp.float32)
    return Transition(
        obs=obs,
        action=action,
        reward=zeros,
        terminated=jnp.zeros((n,), bool),
        truncated=jnp.zeros((n,), bool),
        value=value,
        log_prob=log_prob,
        final_value=zeros,
        episode_return=zeros,
        episode_length=jnp.zeros((n,), jnp.int32),
    )


@jax.jit
def run_update(hparams):
    """Builds a small network and rollout batch, then runs one `ppo_update` on it.

    Everything is one compiled program (building the data eagerly op by op costs seconds of
    dispatch), and every hyperparameter is traced, so all tests share a single compilation.

    Returns:
        (initial params, new params, `UpdateInfo`).
    """
    module = make_network(2, True, (4,), (8,), "tanh")
    network = PolicyNetwork(module, NetworkSpec((4,), 2, True), flatten_batch=False)
    k_init, k_obs, k_act, k_adv, k_tgt = jax.random.split(jax.random.key(42), 5)
    obs = jax.random.normal(k_obs, (B, 4))
    params = network.init(k_init, obs[:1])
    action = jax.random.randint(k_act, (B,), 0, 2)
    dist, value = network.apply(params, obs)
    # The rollout's log-probs come from the current params: KL is 0 before the first step.
    batch = make_transition(obs, action, dist.log_prob(action), value)
    advantages = jax.random.normal(k_adv, (B,))
    targets = value + jax.random.normal(k_tgt, (B,))
    opt_state = make_optimizer(hparams.max_grad_norm, hparams.adam_eps).init(params)
    new_params, _, info = ppo_update(
        params,
        opt_state,
        jax.random.key(7),
        batch,
        advantages,
        targets,
        hparams,
        jnp.int32(0),
        apply_fn=network.apply,
        update_epochs=EPOCHS,
        num_minibatches=MINIBATCHES,
        total_steps=EPOCHS * MINIBATCHES,
        anneal_lr=False,
        clip_value_loss=True,
        normalize_advantages=True,
    )
    return params, new_params, info


def hp(**kwargs):
    """Hyperparams with every leaf a float32 array, so all calls share one compiled program."""
    hparams = Hyperparams(**kwargs)
    return jax.tree.map(jnp.float32, hparams)


def trees_equal(a, b):
    return all(jax.tree.leaves(jax.tree.map(lambda x, y: bool(jnp.array_equal(x, y)), a, b)))


def test_without_target_kl_every_minibatch_is_applied():
    params, new_params, info = run_update(hp(lr=1.0, target_kl=0.0))
    assert float(info.minibatches_applied) == 1.0
    assert not trees_equal(new_params, params)
    np.testing.assert_allclose(info.learning_rate, 1.0)
    assert np.isfinite(float(info.grad_norm)) and float(info.grad_norm) > 0
    # The KL did grow well past any small target, so the early stop had something to catch.
    assert float(info.loss.approx_kl) > 1e-3


def test_target_kl_stops_after_the_first_minibatch():
    params, new_params, info = run_update(hp(lr=1.0, target_kl=1e-6))
    frac = float(info.minibatches_applied)
    assert 0.0 < frac < 1.0
    # With lr = 1 the very first step moves the policy far, so only it is applied.
    assert frac == pytest.approx(1.0 / (EPOCHS * MINIBATCHES))
    assert not trees_equal(new_params, params)
    # Averages cover applied steps only: the first minibatch, measured before any step.
    assert float(info.loss.approx_kl) < 1e-6


def test_zero_learning_rate_leaves_params_unchanged():
    params, new_params, info = run_update(hp(lr=0.0))
    assert trees_equal(new_params, params)
    assert float(info.minibatches_applied) == 1.0
    assert float(info.learning_rate) == 0.0
