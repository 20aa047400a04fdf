"""Greedy or sampled evaluation of a policy: one fixed-length scan over vmapped envs, done masks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from purejaxppo.action_masks import env_action_masks
from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.envs.protocol import episode_limit
from purejaxppo.networks.distributions import DistFn, distribution_fn
from purejaxppo.normalize import normalize_obs
from purejaxppo.types import RunnerState, RunningStats

# act(params, obs_stats, obs, key, mask=None) -> action
ActFn = Callable[..., jax.Array]


@struct.dataclass
class EvalOutput:
    """Per-episode results of one evaluation, every leaf `[episodes]`."""

    returns: jax.Array  # float32: undiscounted raw return of each env's first episode
    lengths: jax.Array  # int32: its length in steps
    finished: jax.Array  # bool: the episode ended within the scan (else returns are partial)


def make_act(
    apply_fn: Callable,
    normalize: bool,
    obs_clip: float,
    deterministic: bool,
    dist_fn: DistFn | None = None,
) -> ActFn:
    """Builds `act(params, obs_stats, obs, key, mask=None) -> action` for raw observations
    `[*batch, *obs]`.

    Observations are normalized with `obs_stats` when `normalize` is set (as in training);
    `deterministic` takes the distribution's mode (arg-max logit / Gaussian mean) and ignores
    `key`, otherwise an action is sampled. `dist_fn(dist, mask)` makes the network's
    distribution the action space's (default: the network's own, restricted to the legal
    actions where `mask [*batch, size]` is given: the mode is then legal too). Actions are
    shaped `[*batch]`, `[*batch, len(nvec)]` (multi-discrete) or `[*batch, A]` (continuous).
    """
    dist_fn = dist_fn or distribution_fn(None)  # masks only

    def act(params: Any, obs_stats: RunningStats, obs: jax.Array, key: jax.Array, mask=None):
        obs_in = normalize_obs(obs_stats, obs, obs_clip) if normalize else obs
        dist, _ = apply_fn(params, obs_in)
        return _choose(dist_fn(dist, mask), deterministic, key)

    return act


def _choose(dist: Any, deterministic: bool, key: jax.Array) -> jax.Array:
    return dist.mode() if deterministic else dist.sample(seed=key)


def make_act_step(network: Any, normalize: bool, obs_clip: float, deterministic: bool):
    """Builds `act_step(params, obs_stats, obs, carry, starts, key, mask=None) -> (action,
    carry)` for a recurrent `network` (its `step`, with the reset convention of
    `purejaxppo.networks.recurrent`) or a feed-forward one (the carry passes through). The
    action space's distribution comes from `network.spec.nvec`; `mask [B, size]`, where given,
    restricts it to the legal actions (as `make_act`)."""
    dist_fn = distribution_fn(getattr(network.spec, "nvec", None))
    if not hasattr(network, "step"):
        act = make_act(network.apply, normalize, obs_clip, deterministic, dist_fn)
        return lambda params, stats, obs, carry, starts, key, mask=None: (
            act(params, stats, obs, key, mask),
            carry,
        )

    def act_step(params, obs_stats, obs, carry, starts, key, mask=None):
        obs_in = normalize_obs(obs_stats, obs, obs_clip) if normalize else obs
        carry, dist, _ = network.step(params, carry, obs_in, starts)
        return _choose(dist_fn(dist, mask), deterministic, key), carry

    return act_step


def initial_carry(network: Any, batch: int) -> Any:
    """A recurrent network's zero carry for `batch` environments; `()` for a feed-forward one."""
    return network.initial_carry(batch) if hasattr(network, "initial_carry") else ()


def episode_steps(env: Any, env_params: Any, max_steps: int | None = None) -> int:
    """Steps an evaluation scans: `max_steps`, else the environment's own episode limit
    (`envs.protocol.episode_limit`).

    Raises:
        ConfigError: neither is known.
    """
    steps = max_steps or episode_limit(env, env_params)
    if steps is None or int(steps) < 1:
        raise ConfigError(
            "the environment states no episode limit (no max_steps_in_episode in its params, "
            "no episode_limit(params)); give one: --max-steps N (eval, render) or eval_max_steps"
        )
    return int(steps)


def make_evaluate(
    config: PPOConfig, num_episodes: int, deterministic: bool = False, max_steps: int | None = None
) -> Callable[[Any, RunningStats, jax.Array], EvalOutput]:
    """Builds a pure `evaluate(params, obs_stats, key) -> EvalOutput` (jit/vmap-able).

    It runs `num_episodes` environments in parallel for a fixed number of steps (the env's
    episode limit unless `max_steps` is given) and counts only each env's first
    episode: a done mask stops the sums once it ends, whatever auto-reset starts afterwards.
    Rewards are the environment's raw rewards (never the normalized training rewards).
    """
    if isinstance(num_episodes, bool) or not isinstance(num_episodes, int) or num_episodes < 1:
        raise ConfigError(f"episodes must be a positive integer, got {num_episodes!r}")
    from purejaxppo.train import make_train  # train builds its in-training evaluation here

    train = make_train(config)
    env, env_params = train.env, train.env_params
    steps = episode_steps(env, env_params, max_steps)
    act = make_act_step(
        train.network, config.normalize_observations, config.obs_clip, deterministic
    )
    carry = initial_carry(train.network, num_episodes)

    def evaluate(params: Any, obs_stats: RunningStats, key: jax.Array) -> EvalOutput:
        return evaluate_episodes(
            env, env_params, act, params, obs_stats, key, num_episodes, steps, carry
        )

    return evaluate


def evaluate_episodes(
    env: Any,
    env_params: Any,
    act: ActFn,
    params: Any,
    obs_stats: RunningStats,
    key: jax.Array,
    num_episodes: int,
    steps: int,
    carry: Any = None,
) -> EvalOutput:
    """Runs `num_episodes` fresh environments for `steps` steps with `act`; each env's first
    episode counts (a done mask stops its sums, whatever auto-reset starts afterwards).

    `act` is `act(params, obs_stats, obs, key, mask=None) -> action`, or, when `carry` (the
    initial carry, `[num_episodes, ...]`) is given, `make_act_step`'s `act_step`, whose carry
    is reset at each episode's first step. Where `env` has `action_mask`, every step passes
    the legal actions `mask [num_episodes, size]` of the states acted on.

    Returns:
        `EvalOutput`, leaves `[num_episodes]`; raw environment rewards.
    """
    step_envs = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    reset_key, key = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(reset_key, num_episodes), env_params
    )
    if carry is None:
        plain = act
        act = lambda p, stats, o, c, starts, k, *mask: (plain(p, stats, o, k, *mask), c)  # noqa: E731
        carry = ()
    zeros = jnp.zeros((num_episodes,), jnp.float32)
    starts = jnp.ones_like(zeros, bool)
    loop = (state, obs, carry, starts, zeros, zeros.astype(jnp.int32), starts, key)

    def step(loop, _):
        state, obs, carry, starts, returns, lengths, active, key = loop
        key, act_key, env_key = jax.random.split(key, 3)
        mask = env_action_masks(env, state, env_params)  # passed only where the env has one
        masks = () if mask is None else (mask,)
        action, carry = act(params, obs_stats, obs, carry, starts, act_key, *masks)
        obs, state, reward, terminated, truncated, _ = step_envs(
            jax.random.split(env_key, num_episodes), state, action, env_params
        )
        done = jnp.logical_or(terminated, truncated)
        returns = returns + jnp.where(active, reward.astype(jnp.float32), 0.0)
        lengths = lengths + active.astype(jnp.int32)
        active = jnp.logical_and(active, jnp.logical_not(done))
        return (state, obs, carry, done, returns, lengths, active, key), None

    (_, _, _, _, returns, lengths, active, _), _ = jax.lax.scan(step, loop, None, length=steps)
    return EvalOutput(returns=returns, lengths=lengths, finished=jnp.logical_not(active))


EVAL_STREAM = 0x65766C  # folded into the runner's key for evaluation episodes


def make_training_eval(config: PPOConfig, env: Any, env_params: Any, network: Any):
    """`evaluate(state, update_index, key) -> (eval_return, eval_length)`, both `[]` float32:
    the mean over `eval_episodes` fresh episodes after every `eval_every`-th update and after
    the last one; NaN on the other updates (and always, when `eval_every` is 0)."""
    nan = (jnp.float32(jnp.nan), jnp.float32(jnp.nan))
    if not config.eval_every:
        return lambda state, update, key: nan
    steps = episode_steps(env, env_params, config.eval_max_steps or None)
    act = make_act_step(
        network, config.normalize_observations, config.obs_clip, config.eval_deterministic
    )
    carry = initial_carry(network, config.eval_episodes)

    def run(state: RunnerState, key: jax.Array):
        out = evaluate_episodes(
            env,
            env_params,
            act,
            state.params,
            state.obs_stats,
            key,
            config.eval_episodes,
            steps,
            carry,
        )
        done = jnp.maximum(out.finished.sum(), 1)
        mean = lambda x: jnp.where(out.finished, x, 0).sum() / done  # noqa: E731
        none = ~out.finished.any()
        return (
            jnp.where(none, jnp.nan, mean(out.returns)).astype(jnp.float32),
            jnp.where(none, jnp.nan, mean(out.lengths.astype(jnp.float32))).astype(jnp.float32),
        )

    def evaluate(state: RunnerState, update: jax.Array, key: jax.Array):
        due = ((update + 1) % config.eval_every == 0) | (update + 1 == config.num_updates)
        return jax.lax.cond(due, run, lambda s, k: nan, state, key)

    return evaluate
