"""Containers for the data that flows through training; no logic lives here."""

from __future__ import annotations

from typing import Any

import jax
from flax import struct

PyTree = Any


@struct.dataclass
class Transition:
    """One rollout, every leaf shaped `[T, N, ...]` (T = num_steps, N = num_envs).

    `obs` is what the policy saw (normalized if observation normalization is on) and `reward`
    what the learner uses (scaled if reward normalization is on). `final_value` is the critic's
    value of the pre-reset next observation; GAE reads it where an episode was truncated.
    """

    obs: jax.Array  # [T, N, *obs_shape]
    # [T, N] (discrete), [T, N, K] int32 (MultiDiscrete, K = len(nvec)) or [T, N, A]
    # (continuous, the unclipped sample)
    action: jax.Array
    reward: jax.Array  # [T, N]
    terminated: jax.Array  # [T, N] bool: the episode ended in a terminal state
    truncated: jax.Array  # [T, N] bool: the episode was cut by a time limit (and not terminated)
    value: jax.Array  # [T, N] critic value of `obs`
    log_prob: jax.Array  # [T, N] log-probability of `action` under the acting policy
    final_value: jax.Array  # [T, N] critic value of the observation that ended step t
    episode_return: jax.Array  # [T, N] undiscounted raw return of an episode ending at t, else 0
    episode_length: jax.Array  # [T, N] length of an episode ending at t, else 0
    # [T, N] bool: obs[t] starts an episode (the carry was reset before it); recurrent only
    start: jax.Array | None = None
    # [T, N, size] bool: the legal actions at obs[t]; None when the env has no action_mask
    action_mask: jax.Array | None = None


@struct.dataclass
class RunningStats:
    """Running mean and variance of a stream of arrays (Chan et al.'s parallel update)."""

    mean: jax.Array  # [*shape]
    var: jax.Array  # [*shape]
    count: jax.Array  # [] float32, pseudo-count


@struct.dataclass
class RewardScaler:
    """Per-env discounted return accumulators and the running statistics of their values."""

    discounted_return: jax.Array  # [N]
    stats: RunningStats  # over scalars


@struct.dataclass
class RunnerState:
    """Everything a run needs to continue exactly: the carry of the scan over updates."""

    params: PyTree  # network parameters
    opt_state: PyTree  # optimizer state (gradient clipping + Adam moments)
    env_state: PyTree  # [N] batched gymnax state, wrapped with episode statistics
    obs: jax.Array  # [N, *obs_shape] raw observation the next step acts on
    obs_stats: RunningStats  # observation normalizer (unused if normalization is off)
    reward_scaler: RewardScaler  # reward normalizer (unused if normalization is off)
    rng: jax.Array  # PRNG key for the rest of the run
    update: jax.Array  # [] int32, updates completed so far
    carry: PyTree = ()  # recurrent policies: the cell's carry after the last step, [N, ...]
    start: jax.Array | None = None  # recurrent: [N] bool, `obs` starts an episode (reset first)


@struct.dataclass
class LossInfo:
    """Scalars from one minibatch's loss evaluation."""

    total: jax.Array
    policy_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array  # mean((ratio - 1) - log ratio), before this minibatch's step
    clip_fraction: jax.Array  # fraction of samples with |ratio - 1| > clip_eps


@struct.dataclass
class Metrics:
    """One fixed-size record per update; under `vmap` every leaf gains leading run axes.

    `episode_return` / `episode_length` average the episodes that finished during the update's
    rollout and are NaN when none did (see `episodes_finished`), never a fake zero.
    """

    episode_return: jax.Array
    episode_length: jax.Array
    episodes_finished: jax.Array  # int32
    policy_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    clip_fraction: jax.Array
    explained_variance: jax.Array  # of the value targets by the rollout's values
    grad_norm: jax.Array  # global norm before clipping, mean over applied minibatches
    learning_rate: jax.Array  # at the update's first optimizer step
    minibatches_applied: jax.Array  # fraction of minibatch steps taken (< 1 after a KL stop)
    env_steps: jax.Array  # int32, environment steps taken so far including this update
    # Evaluation on fresh environments after this update (config.eval_every); NaN if none ran.
    eval_return: jax.Array  # float32 mean raw return of the evaluation's finished episodes
    eval_length: jax.Array  # float32 their mean length
    # int32: rollout steps (x envs) whose action mask allowed no action (in some component),
    # where the policy acted unmasked instead (`purejaxppo.action_masks`); 0 without masks
    fully_masked_steps: jax.Array


@struct.dataclass
class TrainOutput:
    """What `train(rng, hparams)` returns."""

    runner_state: RunnerState
    metrics: Metrics  # every leaf `[num_updates]`
