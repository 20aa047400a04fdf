"""Collects one rollout of `num_steps` steps from `num_envs` vmapped environments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from purejaxppo.loss import ApplyFn
from purejaxppo.normalize import normalize_obs, scale_reward, update_stats
from purejaxppo.types import RunnerState, Transition

# step_fn(params, carry, obs [N, ...], starts [N]) -> (carry, dist [N], value [N])
StepFn = Callable[[Any, Any, jax.Array, Any], tuple[Any, Any, jax.Array]]


def policy_input(runner_state: RunnerState, obs: jax.Array, normalize: bool, clip: float):
    """What the network sees for raw `obs`: normalized with the runner's statistics, or as is."""
    return normalize_obs(runner_state.obs_stats, obs, clip) if normalize else obs


def collect_rollout(
    runner_state: RunnerState,
    env: Any,
    env_params: Any,
    apply_fn: ApplyFn | None,
    num_steps: int,
    gamma: jax.Array | float,
    *,
    normalize_observations: bool,
    normalize_rewards: bool,
    obs_clip: float,
    reward_clip: float,
    step_fn: StepFn | None = None,
) -> tuple[RunnerState, Transition]:
    """Steps every environment `num_steps` times with the current policy.

    Observation statistics are updated with each new batch of observations before they are used
    (the acting policy and the stored `obs` agree); rewards are scaled as they arrive.

    Args:
        runner_state: the carry; its params act, its env state, obs, rng and normalizers advance.
        env: an `EpisodeStats`-wrapped gymnax environment (unbatched; vmapped here).
        apply_fn: `apply_fn(params, obs) -> (dist, value)` of a feed-forward policy.
        step_fn: instead, a recurrent policy's `step_fn(params, carry, obs, starts) -> (carry,
            dist, value)`: the runner's `carry` and `start` advance with every step, following
            `purejaxppo.networks.recurrent`'s reset convention, and `Transition.start` is kept.

    Returns:
        (advanced runner state, `Transition` with leaves `[num_steps, num_envs, ...]`).
    """
    num_envs = runner_state.obs.shape[0]
    step_envs = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    recurrent = step_fn is not None
    if not recurrent:
        step_fn = lambda p, carry, obs, starts: (carry, *apply_fn(p, obs))  # noqa: E731

    def step(state: RunnerState, _):
        rng, act_key, env_key = jax.random.split(state.rng, 3)
        obs_in = policy_input(state, state.obs, normalize_observations, obs_clip)
        carry, dist, value = step_fn(state.params, state.carry, obs_in, state.start)
        action, log_prob = dist.sample_and_log_prob(seed=act_key)

        next_obs, env_state, reward, terminated, truncated, info = step_envs(
            jax.random.split(env_key, num_envs), state.env_state, action, env_params
        )
        truncated = jnp.logical_and(truncated, jnp.logical_not(terminated))
        done = jnp.logical_or(terminated, truncated)

        obs_stats = state.obs_stats
        if normalize_observations:
            obs_stats = update_stats(obs_stats, next_obs)
        reward = reward.astype(jnp.float32)
        reward_scaler = state.reward_scaler
        if normalize_rewards:
            reward_scaler, reward = scale_reward(reward_scaler, reward, done, gamma, reward_clip)

        starts = state.start
        state = state.replace(
            env_state=env_state,
            obs=next_obs,
            obs_stats=obs_stats,
            reward_scaler=reward_scaler,
            rng=rng,
            carry=carry,
            start=done if recurrent else None,
        )
        final_in = policy_input(state, info["final_observation"], normalize_observations, obs_clip)
        # the pre-reset observation continues the episode that ended: its carry, no reset
        final_value = step_fn(state.params, carry, final_in, jnp.zeros_like(done))[2]
        transition = Transition(
            obs=obs_in,
            action=action,
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            value=value,
            log_prob=log_prob,
            final_value=final_value,
            episode_return=info["episode_return"],
            episode_length=info["episode_length"],
            start=starts,
        )
        return state, transition

    return jax.lax.scan(step, runner_state, None, length=num_steps)
