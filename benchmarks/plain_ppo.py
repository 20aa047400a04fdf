"""A plain scan-of-scans PPO, the reference the issue's speed target is stated against.

Discrete actions only. It runs the same environments (purejaxppo's wrapped gymnax env), the same
network widths, batch shape, epochs and minibatches as a config, with none of purejaxppo's extras:
no observation or reward normalization, no critic on pre-reset observations, no target-KL mask,
no learning-rate schedule and no metrics. Separate actor and critic MLPs, `optax.chain(
clip_by_global_norm, adam)`, a rollout `scan`, a reverse GAE `scan` and an epochs x minibatches
`scan`: the textbook single-file JAX PPO, written here to be timed beside the real trainer.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from purejaxppo.config import Hyperparams, PPOConfig
from purejaxppo.envs import make_env


class _Tower(nn.Module):
    """One MLP with a linear head: `[B, D]` -> `[B, out]`."""

    hidden_sizes: tuple[int, ...]
    out: int
    head_gain: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden_sizes:
            x = jnp.tanh(nn.Dense(width, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
        return nn.Dense(self.out, kernel_init=nn.initializers.orthogonal(self.head_gain))(x)


class _PlainActorCritic(nn.Module):
    num_actions: int
    hidden_sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = obs.reshape(obs.shape[0], -1)
        logits = _Tower(self.hidden_sizes, self.num_actions, 0.01)(x)
        return logits, _Tower(self.hidden_sizes, 1, 1.0)(x)[:, 0]


def make_plain_ppo(config: PPOConfig) -> Any:
    """Builds `plain(rng, hparams) -> []` float32 for one run of `config` (discrete actions).

    It does `config.env_steps_per_run` env steps: `config.num_updates` rollouts of
    `config.num_steps` x `config.num_envs`, each followed by GAE and `update_epochs` x
    `num_minibatches` Adam steps. The returned checksum (sum of the final parameters plus the
    rewards seen) keeps XLA from removing any of the work.
    """
    env, env_params = make_env(config.env_id, **config.env_kwargs_dict)
    if not env.action_spec.discrete:
        raise ValueError(f"plain PPO handles discrete actions only; {config.env_id} is continuous")
    obs_shape = jax.eval_shape(env.reset, jax.random.PRNGKey(0), env_params)[0].shape
    net = _PlainActorCritic(env.action_spec.size, tuple(config.hidden_sizes))
    n_envs, n_steps, n_mb = config.num_envs, config.num_steps, config.num_minibatches
    step_envs = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def plain(rng: jax.Array, hp: Hyperparams) -> jax.Array:
        tx = optax.chain(
            optax.clip_by_global_norm(hp.max_grad_norm), optax.adam(hp.lr, eps=hp.adam_eps)
        )
        rng, init_key, reset_key = jax.random.split(rng, 3)
        params = net.init(init_key, jnp.zeros((1, *obs_shape)))
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, n_envs), env_params
        )

        def env_step(carry, _):
            params, env_state, obs, rng = carry
            rng, act_key, env_key = jax.random.split(rng, 3)
            logits, value = net.apply(params, obs)
            action = jax.random.categorical(act_key, logits)
            log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], 1)[:, 0]
            next_obs, env_state, reward, terminated, truncated, _ = step_envs(
                jax.random.split(env_key, n_envs), env_state, action, env_params
            )
            done = jnp.logical_or(terminated, truncated).astype(jnp.float32)
            step = (obs, action, reward.astype(jnp.float32), done, value, log_prob)
            return (params, env_state, next_obs, rng), step

        def gae_step(carry, step):
            next_adv, next_value = carry
            _, _, reward, done, value, _ = step
            delta = reward + hp.gamma * next_value * (1 - done) - value
            adv = delta + hp.gamma * hp.gae_lambda * (1 - done) * next_adv
            return (adv, value), adv

        def loss_fn(params, mb):
            obs, action, old_log_prob, old_value, adv, target = mb
            logits, value = net.apply(params, obs)
            log_probs = jax.nn.log_softmax(logits)
            ratio = jnp.exp(jnp.take_along_axis(log_probs, action[:, None], 1)[:, 0] - old_log_prob)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            surrogate = jnp.minimum(
                ratio * adv, jnp.clip(ratio, 1 - hp.clip_eps, 1 + hp.clip_eps) * adv
            )
            v_clipped = old_value + jnp.clip(value - old_value, -hp.clip_eps, hp.clip_eps)
            v_loss = 0.5 * jnp.maximum((value - target) ** 2, (v_clipped - target) ** 2).mean()
            entropy = -(jnp.exp(log_probs) * log_probs).sum(-1).mean()
            return -surrogate.mean() + hp.vf_coef * v_loss - hp.ent_coef * entropy

        def minibatch_step(carry, mb):
            params, opt_state = carry
            grads = jax.grad(loss_fn)(params, mb)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        def epoch(carry, key):
            params, opt_state, batch = carry
            order = jax.random.permutation(key, n_envs * n_steps)
            shuffled = jax.tree.map(lambda x: x[order].reshape((n_mb, -1) + x.shape[1:]), batch)
            (params, opt_state), _ = jax.lax.scan(minibatch_step, (params, opt_state), shuffled)
            return (params, opt_state, batch), None

        def update(carry, _):
            params, opt_state, env_state, obs, rng, total = carry
            (params, env_state, obs, rng), traj = jax.lax.scan(
                env_step, (params, env_state, obs, rng), None, length=n_steps
            )
            _, last_value = net.apply(params, obs)
            _, adv = jax.lax.scan(gae_step, (jnp.zeros(n_envs), last_value), traj, reverse=True)
            obs_t, action, reward, _, value, log_prob = traj
            flat = lambda x: x.reshape((n_envs * n_steps,) + x.shape[2:])  # noqa: E731
            batch = jax.tree.map(flat, (obs_t, action, log_prob, value, adv, adv + value))
            rng, epoch_key = jax.random.split(rng)
            (params, opt_state, _), _ = jax.lax.scan(
                epoch, (params, opt_state, batch), jax.random.split(epoch_key, config.update_epochs)
            )
            return (params, opt_state, env_state, obs, rng, total + reward.sum()), None

        init = (params, tx.init(params), env_state, obs, rng, jnp.float32(0.0))
        final, _ = jax.lax.scan(update, init, None, length=config.num_updates)
        params_sum = sum(leaf.sum() for leaf in jax.tree.leaves(final[0]))
        return params_sum + final[5]

    return plain
