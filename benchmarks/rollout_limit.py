"""The rollout-only limit: the same environments, policy forward pass and action sampling as
training, with no GAE and no update, as a scan of rollouts (what training throughput is compared to)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from purejaxppo.config import Hyperparams, PPOConfig
from purejaxppo.rollout import policy_input
from purejaxppo.train import make_train


def make_rollout_limit(config: PPOConfig) -> Any:
    """Builds `limit(rng, hparams) -> []` float32 for one run of `config`.

    It initialises exactly like `train` (network, environments, normalizer statistics), then
    runs `config.num_updates` rollouts of `config.num_steps` steps of `config.num_envs`
    environments: policy input, `apply_fn` (actor and critic), sampling with log-probability and
    a vmapped environment step. Parameters never change and nothing is stored; the returned
    checksum (rewards + log-probabilities + values) keeps XLA from removing any of the work.
    So it does `config.env_steps_per_run` env steps, like `train`.
    """
    train = make_train(config)
    env, env_params, network = train.env, train.env_params, train.network
    step_envs = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    recurrent = hasattr(network, "step")  # a GRU/LSTM: one cell step per env step, resets

    def limit(rng: jax.Array, hparams: Hyperparams) -> jax.Array:
        state = train.init(rng, hparams)

        def step(loop, _):
            env_state, obs, memory, starts, key, total = loop
            key, act_key, env_key = jax.random.split(key, 3)
            obs_in = policy_input(state, obs, config.normalize_observations, config.obs_clip)
            if recurrent:
                memory, dist, value = network.step(state.params, memory, obs_in, starts)
            else:
                dist, value = network.apply(state.params, obs_in)
            action, log_prob = dist.sample_and_log_prob(seed=act_key)
            obs, env_state, reward, terminated, truncated, _ = step_envs(
                jax.random.split(env_key, config.num_envs), env_state, action, env_params
            )
            starts = (terminated | truncated) if recurrent else starts
            total = total + reward.sum() + log_prob.sum() + value.sum()
            return (env_state, obs, memory, starts, key, total), None

        def rollout(loop, _):
            return jax.lax.scan(step, loop, None, length=config.num_steps)[0], None

        init = (state.env_state, state.obs, state.carry, state.start, state.rng, jnp.float32(0.0))
        loop, _ = jax.lax.scan(rollout, init, None, length=config.num_updates)
        return loop[-1]

    return limit
