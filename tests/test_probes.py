"""Probe environments with known answers: values, policies and truncation bootstrapping."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo import PPOConfig, make_train
from purejaxppo.parallel import seed_keys

pytestmark = pytest.mark.timeout(300)


def _train(config: PPOConfig, seeds: int = 2):
    train = make_train(config)
    out = jax.jit(jax.vmap(train, in_axes=(0, None)))(seed_keys(0, seeds), config.hparams)
    return train, out


def _probe_config(env_id: str, **changes) -> PPOConfig:
    base = dict(
        env_id=env_id,
        num_envs=8,
        num_steps=16,
        total_timesteps=8 * 16 * 150,
        update_epochs=4,
        num_minibatches=4,
        anneal_lr=False,
        lr=3e-3,
        ent_coef=0.0,
    )
    base.update(changes)
    return PPOConfig().replace(**base)


def _values(train, out, obs):
    return jax.vmap(lambda p: train.network.apply(p, obs)[1])(out.runner_state.params)


def test_constant_reward_value_is_one():
    train, out = _train(_probe_config("ProbeConstant-v0"))
    values = _values(train, out, jnp.zeros((1, 1)))
    np.testing.assert_allclose(np.asarray(values), 1.0, atol=0.05)


def test_policy_learns_observation_dependent_action():
    train, out = _train(_probe_config("ProbeMatchSign-v0"))
    obs = jnp.array([[1.0], [-1.0]])
    probs = jax.vmap(lambda p: train.network.apply(p, obs)[0].probs)(out.runner_state.params)
    assert np.all(np.asarray(probs[:, 0, 1]) > 0.9)  # obs +1 -> action 1
    assert np.all(np.asarray(probs[:, 1, 0]) > 0.9)  # obs -1 -> action 0
    assert np.all(np.asarray(out.metrics.episode_return[:, -5:]) > 0.85)


def test_continuous_policy_mean_reaches_target():
    train, out = _train(_probe_config("ProbeContinuous-v0", total_timesteps=8 * 16 * 300))
    means = jax.vmap(lambda p: train.network.apply(p, jnp.zeros((1, 1)))[0].mean())(
        out.runner_state.params
    )
    np.testing.assert_allclose(np.asarray(means)[..., 0], 0.5, atol=0.1)


@pytest.mark.parametrize("bootstrap", [True, False])
def test_truncation_probe(bootstrap):
    """Reward 1 forever, cut at 8 steps, the observation never changes: the true value is
    1 / (1 - gamma) = 5 for gamma=0.8. Bootstrapping at truncation learns it; treating the cut
    as a terminal state learns the average truncated return instead (about 3.3)."""
    gamma = 0.8
    config = _probe_config(
        "ProbeEndless-v0",
        env_kwargs={"max_steps": 8},
        gamma=gamma,
        gae_lambda=0.95,
        bootstrap_truncated=bootstrap,
        total_timesteps=8 * 16 * 200,
    )
    train, out = _train(config)
    values = np.asarray(_values(train, out, jnp.zeros((1, 1))))
    true_value = 1.0 / (1.0 - gamma)
    truncated_average = np.mean([(1 - gamma ** (8 - t)) / (1 - gamma) for t in range(8)])
    if bootstrap:
        np.testing.assert_allclose(values, true_value, rtol=0.05)
    else:
        np.testing.assert_allclose(values, truncated_average, rtol=0.1)
