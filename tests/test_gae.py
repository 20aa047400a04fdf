"""Tests for truncation-aware GAE (`gae`) and `bootstrap_values` against a float64 NumPy oracle."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo.gae import bootstrap_values, gae


def gae_oracle(reward, value, next_value, terminated, truncated, gamma, lam):
    """Plain float64 loop over time, written from the formula, for any trailing batch shape."""
    reward = np.asarray(reward, np.float64)
    value = np.asarray(value, np.float64)
    next_value = np.asarray(next_value, np.float64)
    terminated = np.asarray(terminated, bool)
    done = terminated | np.asarray(truncated, bool)
    advantages = np.zeros_like(reward)
    following = np.zeros_like(reward[0])
    for t in reversed(range(reward.shape[0])):
        not_term = 1.0 - terminated[t].astype(np.float64)
        not_done = 1.0 - done[t].astype(np.float64)
        delta = reward[t] + gamma * not_term * next_value[t] - value[t]
        following = delta + gamma * lam * not_done * following
        advantages[t] = following
    return advantages, advantages + value


def random_rollout(seed, shape, p_term=0.15, p_trunc=0.15):
    rng = np.random.default_rng(seed)
    reward = rng.normal(size=shape).astype(np.float32)
    value = rng.normal(size=shape).astype(np.float32)
    next_value = rng.normal(size=shape).astype(np.float32)
    terminated = rng.random(shape) < p_term
    truncated = (rng.random(shape) < p_trunc) & ~terminated
    return reward, value, next_value, terminated, truncated


def run_gae(reward, value, next_value, terminated, truncated, gamma, lam):
    with jax.numpy_rank_promotion("raise"):
        adv, targets = gae(
            jnp.asarray(reward, jnp.float32),
            jnp.asarray(value, jnp.float32),
            jnp.asarray(next_value, jnp.float32),
            jnp.asarray(terminated),
            jnp.asarray(truncated),
            gamma,
            lam,
        )
    return np.asarray(adv), np.asarray(targets)


@pytest.mark.parametrize("shape", [(1,), (1, 3), (7,), (20,), (16, 5), (9, 2, 3)])
@pytest.mark.parametrize("gamma,lam", [(0.99, 0.95), (0.9, 0.5), (1.0, 1.0)])
def test_gae_matches_numpy_loop(shape, gamma, lam):
    rollout = random_rollout(sum(shape) * 31 + int(lam * 100), shape)
    if np.prod(shape) >= 60:  # the larger cases must exercise both kinds of episode end
        assert rollout[3].any() and rollout[4].any()
    adv, targets = run_gae(*rollout, gamma, lam)
    want_adv, want_targets = gae_oracle(*rollout, gamma, lam)
    assert adv.shape == shape and targets.shape == shape
    assert adv.dtype == np.float32
    np.testing.assert_allclose(adv, want_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(targets, want_targets, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["terminated", "truncated", "both"])
def test_done_on_last_step(kind):
    reward, value, next_value, _, _ = random_rollout(3, (6, 4))
    terminated = np.zeros((6, 4), bool)
    truncated = np.zeros((6, 4), bool)
    if kind in ("terminated", "both"):
        terminated[-1] = True
    if kind in ("truncated", "both"):
        truncated[-1] = True
    adv, targets = run_gae(reward, value, next_value, terminated, truncated, 0.97, 0.9)
    want_adv, want_targets = gae_oracle(reward, value, next_value, terminated, truncated, 0.97, 0.9)
    np.testing.assert_allclose(adv, want_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(targets, want_targets, rtol=1e-5, atol=1e-5)
    last = reward[-1] - value[-1] + (0.0 if kind != "truncated" else 0.97 * next_value[-1])
    np.testing.assert_allclose(adv[-1], last, rtol=1e-5, atol=1e-6)


def test_integer_done_flags_match_bool_flags():
    reward, value, next_value, terminated, truncated = random_rollout(5, (12, 3))
    as_bool = run_gae(reward, value, next_value, terminated, truncated, 0.99, 0.95)
    as_int = run_gae(
        reward,
        value,
        next_value,
        terminated.astype(np.int32),
        truncated.astype(np.int32),
        0.99,
        0.95,
    )
    np.testing.assert_array_equal(as_bool[0], as_int[0])


def test_lambda_zero_is_one_step_td_error():
    gamma = 0.9
    reward, value, next_value, terminated, truncated = random_rollout(11, (15, 4))
    adv, targets = run_gae(reward, value, next_value, terminated, truncated, gamma, 0.0)
    r, v, nv = (x.astype(np.float64) for x in (reward, value, next_value))
    td = r + gamma * (1.0 - terminated) * nv - v
    np.testing.assert_allclose(adv, td, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(targets, r + gamma * (1.0 - terminated) * nv, rtol=1e-5, atol=1e-6)


def test_lambda_one_gamma_one_no_dones_is_monte_carlo_return():
    reward, value, next_value, _, _ = random_rollout(12, (10, 3))
    next_value[:-1] = value[1:]  # consistent within the episode, as `bootstrap_values` gives
    none = np.zeros((10, 3), bool)
    adv, targets = run_gae(reward, value, next_value, none, none, 1.0, 1.0)
    r = reward.astype(np.float64)
    future = np.cumsum(r[::-1], axis=0)[::-1]  # sum_{s >= t} r_s
    want = future + next_value[-1].astype(np.float64) - value
    np.testing.assert_allclose(adv, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(targets, future + next_value[-1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["terminated", "truncated"])
def test_no_leakage_across_episode_end(kind):
    T, k = 12, 5
    reward, value, next_value, _, _ = random_rollout(21, (T, 3))
    terminated = np.zeros((T, 3), bool)
    truncated = np.zeros((T, 3), bool)
    (terminated if kind == "terminated" else truncated)[k] = True
    adv, _ = run_gae(reward, value, next_value, terminated, truncated, 0.99, 0.95)

    changed_reward = reward.copy()
    changed_reward[k + 1 :] += 100.0
    changed_value = value.copy()
    changed_value[k + 1 :] -= 50.0
    changed_next = next_value.copy()
    changed_next[k + 1 :] += 7.0
    adv2, _ = run_gae(
        changed_reward, changed_value, changed_next, terminated, truncated, 0.99, 0.95
    )
    np.testing.assert_array_equal(adv[: k + 1], adv2[: k + 1])
    # The change is real: advantages after the end do move.
    assert not np.allclose(adv[k + 1 :], adv2[k + 1 :])


def test_without_done_later_rewards_do_leak():
    """Control for the leakage test: with no episode end the same change must move early steps."""
    reward, value, next_value, _, _ = random_rollout(21, (12, 3))
    none = np.zeros((12, 3), bool)
    adv, _ = run_gae(reward, value, next_value, none, none, 0.99, 0.95)
    changed = reward.copy()
    changed[6:] += 100.0
    adv2, _ = run_gae(changed, value, next_value, none, none, 0.99, 0.95)
    assert np.all(np.abs(adv[:6] - adv2[:6]) > 1.0)


def test_truncation_bootstraps_from_final_value():
    gamma, k = 0.95, 3
    reward, value, next_value, _, _ = random_rollout(8, (7, 2))
    terminated = np.zeros((7, 2), bool)
    truncated = np.zeros((7, 2), bool)
    truncated[k] = True
    adv, _ = run_gae(reward, value, next_value, terminated, truncated, gamma, 0.95)
    want = reward[k] + gamma * next_value[k].astype(np.float64) - value[k]
    np.testing.assert_allclose(adv[k], want, rtol=1e-5, atol=1e-6)

    bumped = next_value.copy()
    bumped[k] += 10.0
    adv2, _ = run_gae(reward, value, bumped, terminated, truncated, gamma, 0.95)
    np.testing.assert_allclose(adv2[k] - adv[k], gamma * 10.0, rtol=1e-5)
    # Earlier steps of the same episode feel it too, discounted by gamma * lambda per step.
    np.testing.assert_allclose(adv2[k - 1] - adv[k - 1], (gamma * 0.95) * gamma * 10.0, rtol=1e-4)


def test_termination_ignores_next_value():
    k = 3
    reward, value, next_value, _, _ = random_rollout(9, (7, 2))
    terminated = np.zeros((7, 2), bool)
    truncated = np.zeros((7, 2), bool)
    terminated[k] = True
    adv, _ = run_gae(reward, value, next_value, terminated, truncated, 0.95, 0.95)
    np.testing.assert_allclose(adv[k], reward[k] - value[k], rtol=1e-5, atol=1e-6)
    bumped = next_value.copy()
    bumped[k] += 10.0
    adv2, _ = run_gae(reward, value, bumped, terminated, truncated, 0.95, 0.95)
    np.testing.assert_array_equal(adv, adv2)


def test_bootstrap_values_picks_next_value_final_value_or_last_value():
    T, N = 5, 3
    value = np.arange(T * N, dtype=np.float32).reshape(T, N)
    final_value = -1.0 - np.arange(T * N, dtype=np.float32).reshape(T, N)
    last_value = np.array([100.0, 200.0, 300.0], np.float32)
    done = np.zeros((T, N), bool)
    done[1, 0] = True
    done[4, 1] = True  # done on the last step: the final value beats last_value
    done[2, 2] = True
    got = np.asarray(
        bootstrap_values(
            jnp.asarray(value), jnp.asarray(final_value), jnp.asarray(last_value), jnp.asarray(done)
        )
    )
    want = np.empty((T, N), np.float32)
    for t in range(T):
        for n in range(N):
            if done[t, n]:
                want[t, n] = final_value[t, n]
            elif t + 1 < T:
                want[t, n] = value[t + 1, n]
            else:
                want[t, n] = last_value[n]
    np.testing.assert_array_equal(got, want)
    assert got[4, 0] == 100.0 and got[4, 1] == final_value[4, 1] and got[4, 2] == 300.0


def test_jit_gives_same_result_with_traced_gamma_and_lambda():
    reward, value, next_value, terminated, truncated = random_rollout(4, (10, 6))
    args = tuple(jnp.asarray(x) for x in (reward, value, next_value, terminated, truncated))
    eager = gae(*args, 0.99, 0.95)
    jitted = jax.jit(gae)(*args, jnp.float32(0.99), jnp.float32(0.95))
    for a, b in zip(eager, jitted, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    want_adv, _ = gae_oracle(reward, value, next_value, terminated, truncated, 0.99, 0.95)
    np.testing.assert_allclose(np.asarray(jitted[0]), want_adv, rtol=1e-5, atol=1e-5)
