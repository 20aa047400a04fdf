"""A trained run's policy as a pure function: observation normalization and the environment's
legal-action masks folded in (what `load_policy` and `policy_from_result` return)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from purejaxppo.config import ConfigError, PPOConfig

PolicyFn = Callable[..., jax.Array]


def policy_of_run(config: PPOConfig, state: Any, index: int, deterministic: bool) -> PolicyFn:
    """The policy of run `index` of a batched runner state (leaves `[runs, ...]`), with
    observation normalization and the environment's action masks folded in; the contract is
    `purejaxppo.export.load_policy`'s.

    Returns:
        `policy(obs, key=None, action_mask=None) -> action` (recurrent: `policy(obs, carry,
        key=None, action_mask=None) -> (action, carry)`).
    """
    from purejaxppo.evaluate import make_act
    from purejaxppo.networks.distributions import distribution_fn
    from purejaxppo.train import make_train

    params = jax.tree.map(lambda x: x[index], state.params)
    obs_stats = jax.tree.map(lambda x: x[index], state.obs_stats)
    train = make_train(config)
    network, masked = train.network, train.env.has_action_mask
    if hasattr(network, "step"):
        policy = _recurrent_policy(config, network, params, obs_stats, deterministic, masked)
    else:
        nvec = network.spec.nvec
        act = make_act(
            network.apply,
            config.normalize_observations,
            config.obs_clip,
            deterministic,
            distribution_fn(nvec),
        )

        def policy(
            obs: jax.Array, key: jax.Array | None = None, action_mask: jax.Array | None = None
        ) -> jax.Array:
            mask = _mask(action_mask, masked)
            return act(params, obs_stats, obs, _key(key, deterministic), *mask)

    policy.params, policy.obs_stats, policy.config = params, obs_stats, config
    policy.masked = masked
    return policy


def _mask(action_mask: jax.Array | None, masked: bool) -> tuple[jax.Array, ...]:
    """`(mask,)` as bool, or `()` for an environment without masks."""
    if action_mask is None:
        if masked:
            raise ConfigError(
                "this run's environment has action masks: pass the legal actions, "
                "policy(obs, ..., action_mask=env.action_mask(state, params))"
            )
        return ()
    return (jax.numpy.asarray(action_mask, bool),)


def _key(key: jax.Array | None, deterministic: bool) -> jax.Array:
    if key is None:
        if not deterministic:
            raise ConfigError("a sampling policy needs a PRNG key: policy(obs, ..., key)")
        return jax.random.PRNGKey(0)  # unused by the mode
    return key


def _recurrent_policy(config, network, params, obs_stats, deterministic, masked) -> PolicyFn:
    """`policy(obs, carry, key=None, action_mask=None) -> (action, carry)` with
    `.initial_carry(batch=None)` and `.reset(carry, done)`; one observation `[*obs_shape]`
    with an unbatched carry (and mask `[size]`), or a batch."""
    from purejaxppo.evaluate import make_act_step
    from purejaxppo.networks.recurrent import reset_carry

    act = make_act_step(network, config.normalize_observations, config.obs_clip, deterministic)
    rank = len(network.spec.obs_shape)

    def policy(obs: jax.Array, carry: Any, key: jax.Array | None = None, action_mask=None):
        single = obs.ndim == rank
        mask = _mask(action_mask, masked)
        if single:
            obs, carry = obs[None], jax.tree.map(lambda c: c[None], carry)
            mask = tuple(m[None] for m in mask)
        starts = jax.numpy.zeros(obs.shape[:1], bool)  # resets are the caller's: see reset
        key = _key(key, deterministic)
        action, carry = act(params, obs_stats, obs, carry, starts, key, *mask)
        if single:
            action, carry = action[0], jax.tree.map(lambda c: c[0], carry)
        return action, carry

    def initial_carry(batch: int | None = None) -> Any:
        carry = network.initial_carry(1 if batch is None else batch)
        return jax.tree.map(lambda c: c[0], carry) if batch is None else carry

    def reset(carry: Any, done: jax.Array) -> Any:
        batched = jax.numpy.ndim(done) > 0
        if not batched:
            carry, done = jax.tree.map(lambda c: c[None], carry), jax.numpy.reshape(done, (1,))
        carry = reset_carry(carry, done)
        return carry if batched else jax.tree.map(lambda c: c[0], carry)

    policy.initial_carry, policy.reset, policy.recurrent = initial_carry, reset, True
    return policy
