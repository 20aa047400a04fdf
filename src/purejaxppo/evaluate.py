"""Greedy or sampled evaluation of a policy: one fixed-length scan over vmapped envs, done masks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.normalize import normalize_obs
from purejaxppo.train import make_train
from purejaxppo.types import RunningStats

ActFn = Callable[[Any, RunningStats, jax.Array, jax.Array], jax.Array]


@struct.dataclass
class EvalOutput:
    """Per-episode results of one evaluation, every leaf `[episodes]`."""

    returns: jax.Array  # float32: undiscounted raw return of each env's first episode
    lengths: jax.Array  # int32: its length in steps
    finished: jax.Array  # bool: the episode ended within the scan (else returns are partial)


def make_act(apply_fn: Callable, normalize: bool, obs_clip: float, deterministic: bool) -> ActFn:
    """Builds `act(params, obs_stats, obs, key) -> action` for raw observations `[*batch, *obs]`.

    Observations are normalized with `obs_stats` when `normalize` is set (as in training);
    `deterministic` takes the distribution's mode (arg-max logit / Gaussian mean) and ignores
    `key`, otherwise an action is sampled. Actions are shaped `[*batch]` or `[*batch, A]`.
    """

    def act(params: Any, obs_stats: RunningStats, obs: jax.Array, key: jax.Array) -> jax.Array:
        obs_in = normalize_obs(obs_stats, obs, obs_clip) if normalize else obs
        dist, _ = apply_fn(params, obs_in)
        return dist.mode() if deterministic else dist.sample(seed=key)

    return act


def episode_steps(env_params: Any, max_steps: int | None = None) -> int:
    """Steps an evaluation scans: `max_steps`, else the environment's own episode limit."""
    steps = max_steps or getattr(env_params, "max_steps_in_episode", None)
    if steps is None or int(steps) < 1:
        raise ConfigError("this environment has no max_steps_in_episode; pass max_steps")
    return int(steps)


def make_evaluate(
    config: PPOConfig, num_episodes: int, deterministic: bool = False, max_steps: int | None = None
) -> Callable[[Any, RunningStats, jax.Array], EvalOutput]:
    """Builds a pure `evaluate(params, obs_stats, key) -> EvalOutput` (jit/vmap-able).

    It runs `num_episodes` environments in parallel for a fixed number of steps (the env's
    `max_steps_in_episode` unless `max_steps` is given) and counts only each env's first
    episode: a done mask stops the sums once it ends, whatever auto-reset starts afterwards.
    Rewards are the environment's raw rewards (never the normalized training rewards).
    """
    if isinstance(num_episodes, bool) or not isinstance(num_episodes, int) or num_episodes < 1:
        raise ConfigError(f"episodes must be a positive integer, got {num_episodes!r}")
    train = make_train(config)
    env, env_params = train.env, train.env_params
    steps = episode_steps(env_params, max_steps)
    act = make_act(
        train.network.apply, config.normalize_observations, config.obs_clip, deterministic
    )
    step_envs = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def evaluate(params: Any, obs_stats: RunningStats, key: jax.Array) -> EvalOutput:
        reset_key, key = jax.random.split(key)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, num_episodes), env_params
        )
        zeros = jnp.zeros((num_episodes,), jnp.float32)
        carry = (state, obs, zeros, zeros.astype(jnp.int32), jnp.ones_like(zeros, bool), key)

        def step(carry, _):
            state, obs, returns, lengths, active, key = carry
            key, act_key, env_key = jax.random.split(key, 3)
            action = act(params, obs_stats, obs, act_key)
            obs, state, reward, terminated, truncated, _ = step_envs(
                jax.random.split(env_key, num_episodes), state, action, env_params
            )
            returns = returns + jnp.where(active, reward.astype(jnp.float32), 0.0)
            lengths = lengths + active.astype(jnp.int32)
            active = jnp.logical_and(active, jnp.logical_not(jnp.logical_or(terminated, truncated)))
            return (state, obs, returns, lengths, active, key), None

        (_, _, returns, lengths, active, _), _ = jax.lax.scan(step, carry, None, length=steps)
        return EvalOutput(returns=returns, lengths=lengths, finished=jnp.logical_not(active))

    return evaluate
