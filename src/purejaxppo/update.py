"""The PPO update: optimizer, minibatch shuffling, epochs x minibatches; the only place gradients are taken."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from purejaxppo.config import Hyperparams
from purejaxppo.loss import ApplyFn, DistFn, ppo_loss
from purejaxppo.types import LossInfo, Transition


def make_optimizer(max_grad_norm: jax.Array | float, adam_eps: jax.Array | float):
    """Global-norm gradient clipping then Adam's scaling; the learning rate is applied by the caller.

    Returns:
        An `optax.GradientTransformation` whose updates must be multiplied by `-learning_rate`.
    """
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.scale_by_adam(eps=adam_eps))


def learning_rate(
    lr: jax.Array | float, step: jax.Array, total_steps: int, anneal: bool
) -> jax.Array:
    """The learning rate at optimizer step `step` (0-based) of `total_steps`: `lr`, or linearly
    annealed from `lr` at step 0 to `lr / total_steps` at the last step (0 after it)."""
    if not anneal:
        return jnp.asarray(lr, jnp.float32)
    return lr * jnp.maximum(1.0 - step.astype(jnp.float32) / total_steps, 0.0)


def shuffle_minibatches(key: jax.Array, batch: Any, num_minibatches: int) -> Any:
    """Permutes a pytree with leading axis `[B]` and splits it into `[num_minibatches, B / M, ...]`."""
    size = jax.tree.leaves(batch)[0].shape[0]
    order = jax.random.permutation(key, size)
    return jax.tree.map(
        lambda x: jnp.take(x, order, axis=0).reshape((num_minibatches, -1) + x.shape[1:]), batch
    )


def shuffle_sequences(key: jax.Array, batch: Any, num_minibatches: int) -> Any:
    """Splits a recurrent rollout into minibatches of whole environments, never across time.

    Args:
        batch: `(traj, advantages, targets)`; `traj` has leaves `[T, N, ...]` except `traj.obs`,
            which packs what the loss replays: `(carry0 [N, ...], obs [T, N, ...], starts
            [T, N])`; advantages and targets are `[T, N]`.

    Returns:
        The same structure with a leading `[num_minibatches]` axis and `N / M` environments in
        each, picked by one permutation of the environments; time order is kept.
    """
    traj, advantages, targets = batch
    carry0, obs, starts = traj.obs
    order = jax.random.permutation(key, advantages.shape[1])

    def by_env(x: jax.Array, axis: int) -> jax.Array:
        x = jnp.take(x, order, axis=axis)
        x = x.reshape(x.shape[:axis] + (num_minibatches, -1) + x.shape[axis + 1 :])
        return jnp.moveaxis(x, axis, 0)

    time_major = lambda tree: jax.tree.map(lambda x: by_env(x, 1), tree)  # noqa: E731
    packed = (jax.tree.map(lambda x: by_env(x, 0), carry0), time_major(obs), time_major(starts))
    rest = time_major(traj.replace(obs=None))
    return rest.replace(obs=packed), time_major(advantages), time_major(targets)


@struct.dataclass
class UpdateInfo:
    """Averages over the minibatch steps that were applied in one update."""

    loss: LossInfo
    grad_norm: jax.Array
    minibatches_applied: jax.Array  # fraction of the epochs x minibatches steps taken
    learning_rate: jax.Array  # at the first step of the update


def _select(flag: jax.Array, new: Any, old: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(flag, a, b), new, old)


def ppo_update(
    params: Any,
    opt_state: Any,
    key: jax.Array,
    batch: Transition,
    advantages: jax.Array,
    targets: jax.Array,
    hparams: Hyperparams,
    first_step: jax.Array,
    *,
    apply_fn: ApplyFn,
    update_epochs: int,
    num_minibatches: int,
    total_steps: int,
    anneal_lr: bool,
    clip_value_loss: bool,
    normalize_advantages: bool,
    split: Any = None,
    dist_fn: DistFn | None = None,
) -> tuple[Any, Any, UpdateInfo]:
    """Runs `update_epochs` passes of `num_minibatches` gradient steps over one flattened rollout.

    With `hparams.target_kl > 0`, a minibatch whose approximate KL (measured before its step)
    exceeds the target is skipped, and so is every later step of this update (masked in `jit`).

    Args:
        batch: `Transition` with leaves `[B, ...]`; advantages, targets: `[B]`.
        first_step: `[]` int32 index of this update's first optimizer step (for the LR schedule).
        total_steps: optimizer steps in the whole run (updates x epochs x minibatches).
        split: `split(key, (batch, advantages, targets), num_minibatches)` -> minibatches with
            a leading `[num_minibatches]` axis; default `shuffle_minibatches` of a flat batch
            (`shuffle_sequences` for a recurrent policy's `[T, N]` rollout).
        dist_fn: `ppo_loss`'s (the action space's distribution; applies `batch.action_mask`).

    Returns:
        (new params, new optimizer state, `UpdateInfo` of scalars).
    """
    tx = make_optimizer(hparams.max_grad_norm, hparams.adam_eps)
    grad_fn = jax.value_and_grad(ppo_loss, has_aux=True)

    def minibatch_step(carry, minibatch):
        params, opt_state, stopped, step = carry
        mb, mb_adv, mb_targets = minibatch
        (_, info), grads = grad_fn(
            params,
            apply_fn,
            mb,
            mb_adv,
            mb_targets,
            hparams.clip_eps,
            hparams.vf_coef,
            hparams.ent_coef,
            clip_value_loss,
            normalize_advantages,
            dist_fn,
        )
        too_far = jnp.logical_and(hparams.target_kl > 0, info.approx_kl > hparams.target_kl)
        stopped = jnp.logical_or(stopped, too_far)
        updates, new_opt_state = tx.update(grads, opt_state, params)
        lr = learning_rate(hparams.lr, step, total_steps, anneal_lr)
        new_params = jax.tree.map(lambda p, u: p - lr * u, params, updates)
        applied = jnp.logical_not(stopped)
        carry = (
            _select(applied, new_params, params),
            _select(applied, new_opt_state, opt_state),
            stopped,
            step + 1,
        )
        return carry, (info, optax.tree.norm(grads), applied)

    def epoch(carry, epoch_key):
        shuffled = (split or shuffle_minibatches)(
            epoch_key, (batch, advantages, targets), num_minibatches
        )
        return jax.lax.scan(minibatch_step, carry, shuffled)

    init = (params, opt_state, jnp.asarray(False), first_step)
    (params, opt_state, _, _), (infos, grad_norms, applied) = jax.lax.scan(
        epoch, init, jax.random.split(key, update_epochs)
    )
    weight = applied.astype(jnp.float32)
    count = jnp.maximum(weight.sum(), 1.0)
    mean = lambda x: (x * weight).sum() / count  # noqa: E731
    info = UpdateInfo(
        loss=jax.tree.map(mean, infos),
        grad_norm=mean(grad_norms),
        minibatches_applied=weight.mean(),
        learning_rate=learning_rate(hparams.lr, first_step, total_steps, anneal_lr),
    )
    return params, opt_state, info
