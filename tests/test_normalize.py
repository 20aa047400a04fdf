"""Tests for running observation normalization and reward scaling against NumPy oracles."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo.normalize import (
    init_reward_scaler,
    init_stats,
    normalize_obs,
    scale_reward,
    update_stats,
)
from purejaxppo.types import RunningStats

PRIOR_COUNT = 1e-4  # init_stats: mean 0, variance 1, weighted by this pseudo-count


def pooled_stats(samples):
    """Mean and variance of everything seen, including the prior pseudo-sample, in float64.

    Computed directly from the definition of a weighted mixture's moments (not incrementally):
    mean = sum(w x) / sum(w); var = [c0 * (1 + (0 - mean)^2) + sum((x - mean)^2)] / (c0 + n).
    """
    x = np.concatenate([np.asarray(s, np.float64) for s in samples], axis=0)
    total = PRIOR_COUNT + x.shape[0]
    mean = x.sum(axis=0) / total
    var = (PRIOR_COUNT * (1.0 + mean**2) + ((x - mean) ** 2).sum(axis=0)) / total
    return mean, var, total


@pytest.mark.parametrize("sizes", [(5,), (1, 1, 1), (7, 1, 30, 4), (100, 3)])
def test_update_stats_matches_pooled_numpy_moments(sizes):
    rng = np.random.default_rng(len(sizes) + sum(sizes))
    batches = [(3.0 + 2.0 * rng.normal(size=(n, 3))).astype(np.float32) for n in sizes]
    stats = init_stats((3,))
    for batch in batches:
        stats = update_stats(stats, jnp.asarray(batch))
    mean, var, count = pooled_stats(batches)
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.var, var, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stats.count, count, rtol=1e-6)
    assert stats.mean.shape == (3,) and stats.var.shape == (3,)

    # Against the plain moments of the data the prior only matters at the 1e-4 level.
    data = np.concatenate(batches).astype(np.float64)
    if data.shape[0] >= 5:
        np.testing.assert_allclose(stats.mean, data.mean(axis=0), rtol=1e-3)
        np.testing.assert_allclose(stats.var, data.var(axis=0), rtol=1e-3, atol=1e-3)


def test_update_stats_order_of_batches_does_not_matter():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(10, 2)), 5.0 + rng.normal(size=(3, 2))
    ab = update_stats(update_stats(init_stats((2,)), jnp.asarray(a)), jnp.asarray(b))
    ba = update_stats(update_stats(init_stats((2,)), jnp.asarray(b)), jnp.asarray(a))
    one = update_stats(init_stats((2,)), jnp.asarray(np.concatenate([a, b])))
    for got in (ba, one):
        np.testing.assert_allclose(got.mean, ab.mean, rtol=1e-5)
        np.testing.assert_allclose(got.var, ab.var, rtol=1e-4)


def test_update_stats_of_scalars():
    rng = np.random.default_rng(1)
    batches = [rng.normal(size=(4,)) * 3 - 1 for _ in range(5)]
    stats = init_stats(())
    for batch in batches:
        stats = update_stats(stats, jnp.asarray(batch, jnp.float32))
    mean, var, _ = pooled_stats(batches)
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(stats.var, var, rtol=1e-4)


def test_normalize_obs_standardizes_and_clips():
    stats = RunningStats(
        mean=jnp.array([1.0, -2.0], jnp.float32),
        var=jnp.array([4.0, 0.25], jnp.float32),
        count=jnp.float32(10.0),
    )
    obs = np.array([[1.0, -2.0], [3.0, -1.5], [-100.0, 100.0], [9.0, -3.0]], np.float32)
    got = np.asarray(normalize_obs(stats, jnp.asarray(obs), clip=3.0))
    want = np.array([[0.0, 0.0], [1.0, 1.0], [-3.0, 3.0], [3.0, -2.0]])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got.shape == obs.shape
    assert np.all(np.abs(got) <= 3.0)


def test_normalize_obs_clip_bound_is_exact():
    stats = init_stats((5,))
    obs = jnp.array([-50.0, -5.0, 0.0, 4.9, 50.0])
    np.testing.assert_allclose(
        normalize_obs(stats, obs, clip=5.0), [-5.0, -5.0, 0.0, 4.9, 5.0], rtol=1e-6
    )


def scale_reward_oracle(rewards, dones, gamma, clip):
    """Float64 loop: update each env's discounted return, pool every return seen so far (with
    the prior pseudo-sample), divide the reward by that pool's std, reset returns after a done."""
    T, N = rewards.shape
    returns = np.zeros(N)
    seen = []
    all_returns, all_scaled = [], []
    for t in range(T):
        returns = returns * gamma + rewards[t]
        seen.append(returns.copy())
        _, var, _ = pooled_stats(seen)
        all_scaled.append(np.clip(rewards[t] / np.sqrt(var + 1e-8), -clip, clip))
        returns = np.where(dones[t], 0.0, returns)
        all_returns.append(returns.copy())
    return np.array(all_returns), np.array(all_scaled)


def run_scaler(rewards, dones, gamma, clip):
    scaler = init_reward_scaler(rewards.shape[1])
    returns, scaled = [], []
    for t in range(rewards.shape[0]):
        scaler, out = scale_reward(
            scaler, jnp.asarray(rewards[t], jnp.float32), jnp.asarray(dones[t]), gamma, clip
        )
        returns.append(np.asarray(scaler.discounted_return))
        scaled.append(np.asarray(out))
    return np.array(returns), np.array(scaled), scaler


def test_discounted_return_resets_where_done_with_constant_reward():
    gamma = 0.5
    dones = np.zeros((6, 3), bool)
    dones[1, 0] = dones[4, 0] = True
    dones[2, 1] = True
    rewards = np.ones((6, 3))
    returns, _, _ = run_scaler(rewards, dones, gamma, clip=10.0)
    # Each env's return runs 1, 1.5, 1.75, ... and is 0 right after its episode ends.
    want = np.array(
        [
            [1.0, 1.0, 1.0],
            [0.0, 1.5, 1.5],
            [1.0, 0.0, 1.75],
            [1.5, 1.0, 1.875],
            [0.0, 1.5, 1.9375],
            [1.0, 1.75, 1.96875],
        ]
    )
    np.testing.assert_allclose(returns, want, rtol=1e-6)


@pytest.mark.parametrize("constant", [True, False])
def test_scaled_reward_matches_numpy_oracle(constant):
    gamma, clip, T, N = 0.9, 10.0, 25, 4
    rng = np.random.default_rng(3)
    rewards = np.ones((T, N)) if constant else rng.normal(1.0, 2.0, size=(T, N))
    dones = rng.random((T, N)) < 0.2
    assert dones.any()
    returns, scaled, scaler = run_scaler(rewards, dones, gamma, clip)
    want_returns, want_scaled = scale_reward_oracle(rewards, dones, gamma, clip)
    np.testing.assert_allclose(returns, want_returns, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scaled, want_scaled, rtol=2e-4, atol=1e-5)
    # Rewards are divided by the std of returns, not centred by their mean.
    assert np.all(np.sign(scaled) == np.sign(rewards))
    np.testing.assert_allclose(scaler.stats.count, PRIOR_COUNT + T * N, rtol=1e-6)


def test_scaled_reward_is_clipped():
    # First step: every return is 1, so the running variance is about 1e-4 (the prior's
    # weight alone) and reward / std is about 100: clipped to the bound.
    _, scaled, _ = run_scaler(np.ones((1, 2)), np.zeros((1, 2), bool), 0.99, clip=5.0)
    np.testing.assert_allclose(scaled, 5.0)
    _, scaled, _ = run_scaler(-np.ones((1, 2)), np.zeros((1, 2), bool), 0.99, clip=5.0)
    np.testing.assert_allclose(scaled, -5.0)
