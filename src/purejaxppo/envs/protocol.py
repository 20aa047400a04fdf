"""What the trainer needs from an environment, written down once, and the checks that say so.

The protocol (gymnax 1.x's API; every gymnax environment follows it as it is):

- `reset(key, params) -> (obs, state)`.
- `step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)`,
  auto-resetting: where `terminated | truncated`, `obs` and `state` already belong to a fresh
  episode and `info["final_observation"]` is the observation the finished episode ended on.
  `terminated` means the task ended (no bootstrap); `truncated` means a time limit cut it
  (the final observation's value is bootstrapped).
- `action_space(params)`: `Discrete(n)` (an `n` attribute), a 1-D `Box` (`shape`, `low`,
  `high`) or `MultiDiscrete(nvec)` (below); each with `sample(key)`.
- `observation_space(params)`: the space of one observation (an array, or a pytree of arrays
  that `FlattenObservation` concatenates).
- Optional `action_mask(state, params) -> bool [num_actions]` (`[sum(nvec)]` for
  multi-discrete): the legal actions in `state`, where the environment has such a notion.
- The episode limit, in steps, that evaluation and rendering scan to: an optional
  `episode_limit(params) -> int` method where the time limit has another name (craftax's
  `max_timesteps`), else `params.max_steps_in_episode` (gymnax and the other adapters).

Other families (navix, craftax, jumanji, xland-minigrid) reach this protocol through
their adapter module in this package; `register_env` takes any object that follows it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from purejaxppo.errors import ConfigError


class MultiDiscrete:
    """A product of `len(nvec)` discrete spaces; an action is an int32 vector `[len(nvec)]`."""

    def __init__(self, nvec: Sequence[int]):
        self.nvec = tuple(int(n) for n in nvec)
        if not self.nvec or min(self.nvec) < 1:
            raise ValueError(f"MultiDiscrete needs positive sizes, got {list(nvec)}")
        self.shape = (len(self.nvec),)
        self.dtype = jnp.int32

    def sample(self, key: jax.Array) -> jax.Array:
        """A uniformly random action `[len(nvec)]`."""
        keys = jax.random.split(key, len(self.nvec))
        return jnp.stack(
            [jax.random.randint(k, (), 0, n) for k, n in zip(keys, self.nvec, strict=True)]
        )

    def contains(self, x: jax.Array) -> jax.Array:
        """Whether `x` is an action of this space."""
        return jnp.all((x >= 0) & (x < jnp.asarray(self.nvec)))

    def __repr__(self) -> str:
        return f"MultiDiscrete({list(self.nvec)})"


@dataclasses.dataclass(frozen=True)
class ActionSpec:
    """What the policy head needs to know about the action space.

    `size` is the number of logits (discrete: `n`; multi-discrete: `sum(nvec)`) or of action
    dimensions (continuous); `nvec` is set for multi-discrete spaces only.
    """

    discrete: bool
    size: int
    low: Any = None  # continuous bounds, arrays shaped [size]
    high: Any = None
    nvec: tuple[int, ...] | None = None


def action_spec(env: Any, env_params: Any) -> ActionSpec:
    """Reads an environment's action space into an `ActionSpec`.

    Raises:
        ConfigError: a space that is none of Discrete, MultiDiscrete, 1-D Box.
    """
    space = env.action_space(env_params)
    if isinstance(space, MultiDiscrete) or hasattr(space, "nvec"):
        nvec = tuple(int(n) for n in space.nvec)
        return ActionSpec(discrete=True, size=sum(nvec), nvec=nvec)
    if hasattr(space, "n"):
        return ActionSpec(discrete=True, size=int(space.n))
    shape = tuple(getattr(space, "shape", ()))
    if len(shape) != 1:
        name = getattr(env, "name", type(env).__name__)
        raise ConfigError(
            f"{name}: only Discrete, MultiDiscrete or 1-D Box action spaces are supported, "
            f"got {space!r}"
        )
    size = shape[0]
    low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), (size,))
    high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), (size,))
    return ActionSpec(discrete=False, size=size, low=low, high=high)


def episode_limit(env: Any, env_params: Any) -> int | None:
    """The environment's time limit in steps: `env.episode_limit(env_params)` where the
    environment defines that method, else `env_params.max_steps_in_episode`; None where it
    states neither."""
    method = getattr(env, "episode_limit", None)
    limit = method(env_params) if callable(method) else None
    if limit is None:
        limit = getattr(env_params, "max_steps_in_episode", None)
    return None if limit is None else int(limit)


def check_protocol(env: Any, env_params: Any, env_id: str) -> None:
    """A trial reset and step (`jax.eval_shape`, nothing runs) against the protocol above.

    Raises:
        ConfigError: a missing method, a failing trial, a five-value (pre-1.0 gymnax) `step`,
            no `info["final_observation"]`, or an action mask of the wrong shape.
    """
    for method in ("reset", "step", "action_space", "observation_space"):
        if not callable(getattr(env, method, None)):
            raise ConfigError(f"environment {env_id!r} has no {method}(); the protocol needs it")
    key = jax.random.PRNGKey(0)
    try:
        _, state_shape = jax.eval_shape(env.reset, key, env_params)
        action = env.action_space(env_params).sample(key)
        out = jax.eval_shape(env.step, key, state_shape, action, env_params)
    except Exception as error:  # noqa: BLE001 - any failure here is the env's, reported in one line
        raise ConfigError(f"environment {env_id!r} failed a trial reset/step: {error}") from None
    if not isinstance(out, tuple) or len(out) != 6:
        raise ConfigError(
            f"environment {env_id!r} step() returns {len(out) if isinstance(out, tuple) else 1} "
            "values; purejaxppo needs gymnax 1.x's six: (obs, state, reward, terminated, "
            "truncated, info)"
        )
    if not isinstance(out[5], dict) or "final_observation" not in out[5]:
        raise ConfigError(
            f"environment {env_id!r} step() info lacks 'final_observation' (the pre-reset "
            "observation); subclass gymnax.environments.environment.Environment to get it"
        )
    if callable(getattr(env, "action_mask", None)):
        mask = jax.eval_shape(env.action_mask, state_shape, env_params)
        size = action_spec(env, env_params).size
        if tuple(mask.shape) != (size,):
            raise ConfigError(
                f"environment {env_id!r} action_mask() has shape {list(mask.shape)}; the action "
                f"space needs [{size}]"
            )
