"""Collects one rollout of `num_steps` steps from `num_envs` vmapped environments."""

from __future__ import annotations

from typing import Any, Protocol

import jax
import jax.numpy as jnp

from purejaxppo.action_masks import env_action_masks
from purejaxppo.loss import ApplyFn, DistFn
from purejaxppo.normalize import normalize_obs, scale_reward, update_stats
from purejaxppo.types import RunnerState, Transition


class SteppedPolicy(Protocol):
    """A recurrent policy as the rollout drives it (`networks.recurrent.RecurrentPolicy`)."""

    def outputs(self, params: Any, carry: Any, obs: jax.Array, starts: jax.Array) -> tuple:
        """(new carry, raw policy output, value `[B]`) for one step of obs `[B, ...]`."""

    def distribution(self, policy: Any) -> Any:
        """The action distribution of a raw policy output."""


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
    recurrent: SteppedPolicy | None = None,
    dist_fn: DistFn | None = None,
) -> tuple[RunnerState, Transition]:
    """Steps every environment `num_steps` times with the current policy.

    Observation statistics are updated with each new batch of observations before they are used
    (the acting policy and the stored `obs` agree); rewards are scaled as they arrive.

    Args:
        runner_state: the carry; its params act, its env state, obs, rng and normalizers advance.
        env: an `EpisodeStats`-wrapped gymnax environment (unbatched; vmapped here).
        apply_fn: `apply_fn(params, obs) -> (dist, value)` of a feed-forward policy.
        recurrent: instead, a recurrent policy: the runner's `carry` and `start` advance with
            every step, following `purejaxppo.networks.recurrent`'s reset convention, and
            `Transition.start` is kept. Its pre-reset observations' values come from the same
            batched cell call as the next step's action (both start from this step's carry).
        dist_fn: `dist_fn(dist, mask) -> dist`, the action space's distribution (a
            multi-discrete split; where the env has `action_mask`, its legal actions `[N,
            size]` in the state acted on, kept as `Transition.action_mask`). None: the
            network's distribution as it is, and no mask.

    Returns:
        (advanced runner state, `Transition` with leaves `[num_steps, num_envs, ...]`).
    """
    num_envs = runner_state.obs.shape[0]
    step_envs = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def step_env(state: RunnerState, key: jax.Array, action: jax.Array):
        """Steps the environments; returns (state with the new obs, rng and normalizers;
        reward, terminated, truncated, done, info)."""
        next_obs, env_state, reward, terminated, truncated, info = step_envs(
            jax.random.split(key, num_envs), state.env_state, action, env_params
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
        state = state.replace(
            env_state=env_state, obs=next_obs, obs_stats=obs_stats, reward_scaler=reward_scaler
        )
        return state, (reward, terminated, truncated, done, info)

    def act(state: RunnerState, dist: Any, key: jax.Array):
        """(action, log_prob, legal actions `[N, size]` or None) in the current env state."""
        mask = env_action_masks(env, state.env_state, env_params) if dist_fn else None
        dist = dist_fn(dist, mask) if dist_fn else dist
        return (*dist.sample_and_log_prob(seed=key), mask)

    def transition(obs_in, acted, value, final_value, starts, outcome) -> Transition:
        action, log_prob, mask = acted
        reward, terminated, truncated, _, info = outcome
        return Transition(
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
            action_mask=mask,
        )

    def feed_forward_step(state: RunnerState, _):
        rng, act_key, env_key = jax.random.split(state.rng, 3)
        obs_in = policy_input(state, state.obs, normalize_observations, obs_clip)
        dist, value = apply_fn(state.params, obs_in)
        acted = act(state, dist, act_key)
        state, outcome = step_env(state.replace(rng=rng), env_key, acted[0])
        final_in = policy_input(
            state, outcome[4]["final_observation"], normalize_observations, obs_clip
        )
        final_value = apply_fn(state.params, final_in)[1]
        return state, transition(obs_in, acted, value, final_value, None, outcome)

    if recurrent is None:
        return jax.lax.scan(feed_forward_step, runner_state, None, length=num_steps)

    def recurrent_step(scan_carry, _):
        # `ahead`: this step's input and the policy's outputs for it, computed last step
        state, (obs_in, carry, policy, value) = scan_carry
        rng, act_key, env_key = jax.random.split(state.rng, 3)
        acted = act(state, recurrent.distribution(policy), act_key)
        starts = state.start
        state, outcome = step_env(state.replace(rng=rng, carry=carry), env_key, acted[0])
        done = outcome[3]
        next_in = policy_input(state, state.obs, normalize_observations, obs_clip)
        final_in = policy_input(
            state, outcome[4]["final_observation"], normalize_observations, obs_clip
        )
        # the next obs (reset where an episode starts) and the pre-reset obs (continuing the
        # episode that ended) both start from this step's carry: one cell call on 2N rows
        twice = lambda x, y: jnp.concatenate([x, y])  # noqa: E731
        both_carry, both_policy, both_value = recurrent.outputs(
            state.params,
            jax.tree.map(lambda c: twice(c, c), carry),
            twice(next_in, final_in),
            twice(done, jnp.zeros_like(done)),
        )
        first = lambda tree: jax.tree.map(lambda x: x[:num_envs], tree)  # noqa: E731
        next_policy = (
            first(both_policy)
            if recurrent.spec.discrete
            else (both_policy[0][:num_envs], both_policy[1])
        )
        ahead = (next_in, first(both_carry), next_policy, both_value[:num_envs])
        state = state.replace(start=done)
        final_value = both_value[num_envs:]
        record = transition(obs_in, acted, value, final_value, starts, outcome)
        return (state, ahead), record

    obs_in = policy_input(runner_state, runner_state.obs, normalize_observations, obs_clip)
    carry, policy, value = recurrent.outputs(
        runner_state.params, runner_state.carry, obs_in, runner_state.start
    )
    (state, _), traj = jax.lax.scan(
        recurrent_step, (runner_state, (obs_in, carry, policy, value)), None, length=num_steps
    )
    return state, traj
