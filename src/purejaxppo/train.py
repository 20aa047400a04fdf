"""`make_train(config)`: the whole PPO run as one pure function `train(rng, hparams)`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from purejaxppo.action_masks import check_trial_mask, fully_masked
from purejaxppo.config import ConfigError, Hyperparams, PPOConfig
from purejaxppo.envs import make_env
from purejaxppo.evaluate import EVAL_STREAM, make_training_eval
from purejaxppo.gae import bootstrap_values, gae
from purejaxppo.imports import run_imports
from purejaxppo.networks import NetworkSpec
from purejaxppo.networks.build import policy_network
from purejaxppo.networks.distributions import distribution_fn
from purejaxppo.networks.recurrent import RecurrentPolicy
from purejaxppo.normalize import init_reward_scaler, init_stats, update_stats
from purejaxppo.rollout import collect_rollout, policy_input
from purejaxppo.types import Metrics, RunnerState, TrainOutput, Transition
from purejaxppo.update import make_optimizer, ppo_update, shuffle_sequences

TrainFn = Callable[[jax.Array, Hyperparams], TrainOutput]


def _as_float32(hparams: Hyperparams) -> Hyperparams:
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), hparams)


def explained_variance(values: jax.Array, targets: jax.Array) -> jax.Array:
    """1 - Var[targets - values] / Var[targets] over all elements; NaN if the targets are constant."""
    var_targets = jnp.var(targets)
    return jnp.where(var_targets > 0, 1.0 - jnp.var(targets - values) / var_targets, jnp.nan)


def make_train(config: PPOConfig, network: Any = None) -> TrainFn:
    """Builds the pure training function for a static config.

    Args:
        network: your own flax module, class or factory (see `purejaxppo.networks.contract`);
            the same as `make_train(config.replace(network=network))`. Default: `config.network`.

    Returns:
        `train(rng, hparams) -> TrainOutput`, pure and jit/vmap-able; its metrics leaves are
        `[num_updates]`. The function also carries `train.init(rng, hparams) -> RunnerState`,
        `train.update_step(runner_state, hparams, update=None) -> (RunnerState, Metrics)` (to
        drive a run in chunks; `update` is the index of the update, unbatched, when known),
        `train.config`, `train.network` (a `PolicyNetwork`: `.apply(params, obs) -> (dist,
        value)`), `train.env` and `train.env_params`.

    Raises:
        ConfigError: unknown environment, an option that does not fit its action space, an
            action mask that allows nothing on reset (`purejaxppo.action_masks`), or a network
            that breaks the contract.
    """
    if network is not None:
        config = config.replace(network=network)
    run_imports(config.imports)
    env, env_params = make_env(
        config.env_id, config.env_kwargs_dict, config.env_params_dict, config.obs_mask
    )
    action = env.action_spec
    if action.discrete and config.log_std_init is not None:
        raise ConfigError(
            f"log_std_init applies to continuous actions only; {config.env_id} has discrete "
            "actions: remove log_std_init"
        )
    check_trial_mask(env, env_params, config.env_id)
    obs_shape = tuple(jax.eval_shape(env.reset, jax.random.PRNGKey(0), env_params)[0].shape)
    spec = NetworkSpec(
        obs_shape, action.size, action.discrete, config.hidden_sizes, config.activation, action.nvec
    )
    network = policy_network(config, spec)
    recurrent = isinstance(network, RecurrentPolicy)
    apply_fn = network.apply
    dist_fn = distribution_fn(action.nvec)  # multi-discrete split, legal-action masks
    evaluate = make_training_eval(config, env, env_params, network)
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
            carry=network.initial_carry(config.num_envs) if recurrent else (),
            start=jnp.ones((config.num_envs,), bool) if recurrent else None,
        )

    def advantages_and_targets(state: RunnerState, traj: Transition, hparams: Hyperparams):
        last_obs = policy_input(state, state.obs, config.normalize_observations, config.obs_clip)
        if recurrent:
            last_value = network.outputs(state.params, state.carry, last_obs, state.start)[2]
        else:
            last_value = apply_fn(state.params, last_obs)[1]
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

    def update_step(
        state: RunnerState, hparams: Hyperparams, update: jax.Array | None = None
    ) -> tuple[RunnerState, Metrics]:
        hparams = _as_float32(hparams)
        eval_key = jax.random.fold_in(state.rng, EVAL_STREAM)  # leaves training's keys alone
        index = state.update if update is None else update  # 0-based, before this update
        # COLLECT
        carry0 = state.carry  # the recurrent loss replays each environment from here
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
            recurrent=network if recurrent else None,
            dist_fn=dist_fn,
        )
        # ADVANTAGES
        advantages, targets = advantages_and_targets(state, traj, hparams)
        # UPDATE
        if recurrent:  # whole environments per minibatch, replayed in time order
            shape = lambda x: x  # noqa: E731
            batch = traj.replace(obs=(carry0, traj.obs, traj.start))
        else:
            shape = lambda x: x.reshape((config.batch_size,) + x.shape[2:])  # noqa: E731
            batch = jax.tree.map(shape, traj)
        rng, update_key = jax.random.split(state.rng)
        params, opt_state, info = ppo_update(
            state.params,
            state.opt_state,
            update_key,
            batch,
            shape(advantages),
            shape(targets),
            hparams,
            state.update * steps_per_update,
            apply_fn=apply_fn,
            update_epochs=config.update_epochs,
            num_minibatches=config.num_minibatches,
            total_steps=total_opt_steps,
            anneal_lr=config.anneal_lr,
            clip_value_loss=config.clip_value_loss,
            normalize_advantages=config.normalize_advantages,
            split=shuffle_sequences if recurrent else None,
            dist_fn=dist_fn,
        )
        # METRICS
        done = jnp.logical_or(traj.terminated, traj.truncated)
        finished = done.sum().astype(jnp.int32)
        no_legal = (
            jnp.int32(0)
            if traj.action_mask is None
            else fully_masked(traj.action_mask, action.nvec).sum(dtype=jnp.int32)
        )
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
            fully_masked_steps=no_legal,
            eval_return=jnp.float32(jnp.nan),
            eval_length=jnp.float32(jnp.nan),
        )
        state = state.replace(params=params, opt_state=opt_state, rng=rng, update=state.update + 1)
        eval_return, eval_length = evaluate(state, index, eval_key)
        return state, metrics.replace(eval_return=eval_return, eval_length=eval_length)

    def train(rng: jax.Array, hparams: Hyperparams) -> TrainOutput:
        state = init(rng, hparams)
        # The update index as a scan input stays unbatched under vmap, so the evaluation's
        # lax.cond really skips work instead of turning into a select over both branches.
        state, metrics = jax.lax.scan(
            lambda s, i: update_step(s, hparams, i), state, jnp.arange(config.num_updates)
        )
        return TrainOutput(runner_state=state, metrics=metrics)

    train.init = init
    train.update_step = update_step
    train.config = config
    train.network = network
    train.env = env
    train.env_params = env_params
    return train
