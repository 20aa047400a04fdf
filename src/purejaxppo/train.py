"""`make_train(config)`: the whole PPO run as one pure function `train(rng, hparams)`."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from purejaxppo.config import ConfigError, Hyperparams, PPOConfig
from purejaxppo.envs import make_env
from purejaxppo.gae import bootstrap_values, gae
from purejaxppo.networks import make_network
from purejaxppo.normalize import init_reward_scaler, init_stats, update_stats
from purejaxppo.rollout import collect_rollout, policy_input
from purejaxppo.types import Metrics, RunnerState, TrainOutput, Transition
from purejaxppo.update import make_optimizer, ppo_update

TrainFn = Callable[[jax.Array, Hyperparams], TrainOutput]


def _as_float32(hparams: Hyperparams) -> Hyperparams:
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), hparams)


def explained_variance(values: jax.Array, targets: jax.Array) -> jax.Array:
    """1 - Var[targets - values] / Var[targets] over all elements; NaN if the targets are constant."""
    var_targets = jnp.var(targets)
    return jnp.where(var_targets > 0, 1.0 - jnp.var(targets - values) / var_targets, jnp.nan)


def make_train(config: PPOConfig) -> TrainFn:
    """Builds the pure training function for a static config.

    Returns:
        `train(rng, hparams) -> TrainOutput`, pure and jit/vmap-able; its metrics leaves are
        `[num_updates]`. The function also carries `train.init(rng, hparams) -> RunnerState`,
        `train.update_step(runner_state, hparams) -> (RunnerState, Metrics)` (to drive a run in
        chunks), `train.config`, `train.network`, `train.env` and `train.env_params`.

    Raises:
        ConfigError: unknown environment, or an option that does not fit its action space.
    """
    env, env_params = make_env(config.env_id, **config.env_kwargs_dict)
    spec = env.action_spec
    if spec.discrete and config.log_std_init is not None:
        raise ConfigError(
            f"log_std_init applies to continuous actions only; {config.env_id} has discrete "
            "actions: remove log_std_init"
        )
    obs_shape = jax.eval_shape(env.reset, jax.random.PRNGKey(0), env_params)[0].shape
    network = make_network(
        spec.size,
        spec.discrete,
        obs_shape,
        config.hidden_sizes,
        config.activation,
        config.shared_network,
        log_std_init=config.log_std_init or 0.0,
    )
    apply_fn = network.apply
    steps_per_update = config.update_epochs * config.num_minibatches
    total_opt_steps = config.num_updates * steps_per_update

    def init(rng: jax.Array, hparams: Hyperparams) -> RunnerState:
        hparams = _as_float32(hparams)
        rng, net_key, env_key = jax.random.split(rng, 3)
        params = network.init(net_key, jnp.zeros((1, *obs_shape), jnp.float32))
        opt_state = make_optimizer(hparams.max_grad_norm, hparams.adam_eps).init(params)
        reset_keys = jax.random.split(env_key, config.num_envs)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(reset_keys, env_params)
        obs_stats = init_stats(obs_shape)
        if config.normalize_observations:
            obs_stats = update_stats(obs_stats, obs)
        return RunnerState(
            params=params,
            opt_state=opt_state,
            env_state=env_state,
            obs=obs,
            obs_stats=obs_stats,
            reward_scaler=init_reward_scaler(config.num_envs),
            rng=rng,
            update=jnp.int32(0),
        )

    def advantages_and_targets(state: RunnerState, traj: Transition, hparams: Hyperparams):
        _, last_value = apply_fn(
            state.params,
            policy_input(state, state.obs, config.normalize_observations, config.obs_clip),
        )
        done = jnp.logical_or(traj.terminated, traj.truncated)
        next_value = bootstrap_values(traj.value, traj.final_value, last_value, done)
        if config.bootstrap_truncated:
            terminated, truncated = traj.terminated, traj.truncated
        else:  # older trainers: a time limit is treated as a terminal state
            terminated, truncated = done, jnp.zeros_like(done)
        return gae(
            traj.reward,
            traj.value,
            next_value,
            terminated,
            truncated,
            hparams.gamma,
            hparams.gae_lambda,
        )

    def update_step(state: RunnerState, hparams: Hyperparams) -> tuple[RunnerState, Metrics]:
        hparams = _as_float32(hparams)
        # COLLECT
        state, traj = collect_rollout(
            state,
            env,
            env_params,
            apply_fn,
            config.num_steps,
            hparams.gamma,
            normalize_observations=config.normalize_observations,
            normalize_rewards=config.normalize_rewards,
            obs_clip=config.obs_clip,
            reward_clip=config.reward_clip,
        )
        # ADVANTAGES
        advantages, targets = advantages_and_targets(state, traj, hparams)
        # UPDATE
        flat = lambda x: x.reshape((config.batch_size,) + x.shape[2:])  # noqa: E731
        rng, update_key = jax.random.split(state.rng)
        params, opt_state, info = ppo_update(
            state.params,
            state.opt_state,
            update_key,
            jax.tree.map(flat, traj),
            flat(advantages),
            flat(targets),
            hparams,
            state.update * steps_per_update,
            apply_fn=apply_fn,
            update_epochs=config.update_epochs,
            num_minibatches=config.num_minibatches,
            total_steps=total_opt_steps,
            anneal_lr=config.anneal_lr,
            clip_value_loss=config.clip_value_loss,
            normalize_advantages=config.normalize_advantages,
        )
        # METRICS
        done = jnp.logical_or(traj.terminated, traj.truncated)
        finished = done.sum().astype(jnp.int32)
        per_episode = lambda x: jnp.where(  # noqa: E731
            finished > 0, x.sum() / jnp.maximum(finished, 1), jnp.nan
        )
        metrics = Metrics(
            episode_return=per_episode(traj.episode_return),
            episode_length=per_episode(traj.episode_length.astype(jnp.float32)),
            episodes_finished=finished,
            policy_loss=info.loss.policy_loss,
            value_loss=info.loss.value_loss,
            entropy=info.loss.entropy,
            approx_kl=info.loss.approx_kl,
            clip_fraction=info.loss.clip_fraction,
            explained_variance=explained_variance(traj.value, targets),
            grad_norm=info.grad_norm,
            learning_rate=info.learning_rate,
            minibatches_applied=info.minibatches_applied,
            env_steps=(state.update + 1) * config.batch_size,
        )
        state = state.replace(params=params, opt_state=opt_state, rng=rng, update=state.update + 1)
        return state, metrics

    def train(rng: jax.Array, hparams: Hyperparams) -> TrainOutput:
        state = init(rng, hparams)
        state, metrics = jax.lax.scan(
            lambda s, _: update_step(s, hparams), state, None, length=config.num_updates
        )
        return TrainOutput(runner_state=state, metrics=metrics)

    train.init = init
    train.update_step = update_step
    train.config = config
    train.network = network
    train.env = env
    train.env_params = env_params
    return train
