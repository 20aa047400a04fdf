"""Environment creation, the registry of your own ids, the episode-statistics wrapper; the only
module that imports gymnax."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from purejaxppo.config import ConfigError
from purejaxppo.config_keys import suggest_key
from purejaxppo.env_wrappers import ObservationMask


@dataclasses.dataclass(frozen=True)
class ActionSpec:
    """What the policy head needs to know about the action space."""

    discrete: bool
    size: int  # number of actions (discrete) or action dimensions (continuous)
    low: Any = None  # continuous bounds, arrays shaped [size]
    high: Any = None


@struct.dataclass
class EpisodeStatsState:
    """The wrapped environment's state plus the running return and length of its episode."""

    env_state: Any
    episode_return: jax.Array  # [] float32, raw reward summed so far this episode
    episode_length: jax.Array  # [] int32


class EpisodeStats:
    """Wraps a gymnax 1.x environment: records each finished episode's raw return and length.

    `step` keeps gymnax's six-value API. Its `info` gains `episode_return` and `episode_length`
    (the finished episode's totals where `terminated | truncated`, else 0). Continuous actions are
    clipped to the action space's bounds before the inner step.
    """

    def __init__(self, env: Any, env_params: Any):
        self.env = env
        self.action_spec = action_spec(env, env_params)

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, EpisodeStatsState]:
        """Returns (observation, wrapped state) for a fresh episode."""
        obs, env_state = self.env.reset(key, params)
        return obs, EpisodeStatsState(env_state, jnp.float32(0.0), jnp.int32(0))

    def step(self, key: jax.Array, state: EpisodeStatsState, action: jax.Array, params: Any):
        """Steps with auto-reset; returns (obs, state, reward, terminated, truncated, info)."""
        if not self.action_spec.discrete:
            action = jnp.clip(action, self.action_spec.low, self.action_spec.high)
        obs, env_state, reward, terminated, truncated, info = self.env.step(
            key, state.env_state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        ret = state.episode_return + reward.astype(jnp.float32)
        length = state.episode_length + 1
        info = {
            **info,
            "episode_return": jnp.where(done, ret, 0.0),
            "episode_length": jnp.where(done, length, 0),
        }
        new_state = EpisodeStatsState(
            env_state, jnp.where(done, 0.0, ret), jnp.where(done, 0, length)
        )
        return obs, new_state, reward, terminated, truncated, info


def action_spec(env: Any, env_params: Any) -> ActionSpec:
    """Reads the action space of a gymnax environment into an `ActionSpec`."""
    space = env.action_space(env_params)
    if hasattr(space, "n"):
        return ActionSpec(discrete=True, size=int(space.n))
    shape = tuple(getattr(space, "shape", ()))
    if len(shape) != 1:
        raise ConfigError(
            f"{env.name}: only Discrete or 1-D Box action spaces are supported, got {space!r}"
        )
    size = shape[0]
    low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), (size,))
    high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), (size,))
    return ActionSpec(discrete=False, size=size, low=low, high=high)


_REGISTRY: dict[str, Callable[..., Any]] = {}


def register_env(env_id: str, factory: Callable[..., Any], overwrite: bool = False) -> None:
    """Makes `env_id` usable wherever a config takes `env_id`, the CLI included.

    Args:
        env_id: the id (must not shadow a gymnax id).
        factory: called as `factory(**env_kwargs)`; returns a gymnax 1.x environment (its
            `default_params` are used) or a pair `(environment, env_params)`. An environment
            class works as its own factory.
        overwrite: replace an id registered before (default: refuse, in one line).

    For the CLI, put the call in a module and name it with `--import MODULE` or `imports:`.
    """
    import gymnax

    if not isinstance(env_id, str) or not env_id:
        raise ConfigError(f"register_env: the id must be a non-empty string, got {env_id!r}")
    if not callable(factory):
        raise ConfigError(f"register_env({env_id!r}): the factory must be callable")
    if env_id in gymnax.registered_envs and env_id not in _REGISTRY:
        raise ConfigError(f"register_env: {env_id!r} is a gymnax id already; pick another id")
    if env_id in _REGISTRY and not overwrite and _REGISTRY[env_id] is not factory:
        raise ConfigError(
            f"register_env: {env_id!r} is registered already; pass overwrite=True to replace it"
        )
    _REGISTRY[env_id] = factory


def registered_env_ids() -> list[str]:
    """Ids the trainer can make: gymnax's (including ids registered with gymnax.registration)
    and those registered with `register_env`."""
    import gymnax

    return list(dict.fromkeys([*gymnax.registered_envs, *_REGISTRY]))


def _construct(env_id: str, env_kwargs: Mapping[str, Any]) -> tuple[Any, Any]:
    import gymnax

    try:
        if env_id in _REGISTRY:
            made = _REGISTRY[env_id](**env_kwargs)
            env, params = made if isinstance(made, tuple) else (made, made.default_params)
            return env, params
        return gymnax.make(env_id, **env_kwargs)
    except TypeError as error:
        raise ConfigError(
            f"env_kwargs {dict(env_kwargs)!r} rejected by {env_id}: {error}"
        ) from None


def override_env_params(env_id: str, env_params: Any, overrides: Mapping[str, Any]) -> Any:
    """`env_params` with the fields in `overrides` replaced (e.g. `max_steps_in_episode`).

    Raises:
        ConfigError: a field the params do not have (with the closest one), or params that are
            not a dataclass.
    """
    if not overrides:
        return env_params
    if not dataclasses.is_dataclass(env_params):
        raise ConfigError(
            f"{env_id}'s env_params ({type(env_params).__name__}) cannot be overridden"
        )
    fields = [f.name for f in dataclasses.fields(env_params)]
    for name in overrides:
        if name not in fields:
            close = suggest_key(name, fields)
            hint = f"did you mean {close!r}? " if close else ""
            raise ConfigError(
                f"env_params: {type(env_params).__name__} of {env_id} has no field {name!r}; "
                f"{hint}its fields: {', '.join(fields)}"
            )
    return env_params.replace(**overrides)


def make_env(
    env_id: str,
    env_kwargs: Mapping[str, Any] | None = None,
    env_params: Mapping[str, Any] | None = None,
    obs_mask: tuple[int, ...] = (),
) -> tuple[EpisodeStats, Any]:
    """Makes an environment (a `register_env` id, else gymnax's) wrapped with `EpisodeStats`.

    Args:
        env_kwargs: keyword arguments of the environment's constructor (`gymnax.make`).
        env_params: fields of the environment's params to override (see `override_env_params`).
        obs_mask: flat observation indices to hide from the agent (`ObservationMask`).

    Returns:
        (wrapped environment, its `env_params` with the overrides applied).

    Raises:
        ConfigError: unknown id (listing the close ids), bad keyword arguments or params
            fields, or an environment that does not follow gymnax's six-value `step` API.
    """
    known = registered_env_ids()
    if env_id not in known:
        close = difflib.get_close_matches(env_id, known, n=4, cutoff=0.4)
        hint = f"; close ids: {', '.join(close)}" if close else ""
        raise ConfigError(
            f"unknown environment {env_id!r}{hint} (`purejaxppo list envs` lists them; "
            "register your own with purejaxppo.register_env and --import MODULE)"
        )
    env_kwargs = dict(env_kwargs or {})
    try:
        env, params = _construct(env_id, env_kwargs)
    except ConfigError as error:
        default = _construct(env_id, {})[1] if env_kwargs else None
        movable = [
            k for k in env_kwargs if dataclasses.is_dataclass(default) and hasattr(default, k)
        ]
        if movable:
            raise ConfigError(
                f"{error}; {', '.join(movable)} is a field of the env params: set it with "
                f"env_params instead, e.g. --set 'env_params={{{movable[0]}: ...}}'"
            ) from None
        raise
    params = override_env_params(env_id, params, dict(env_params or {}))
    _check_step_api(env, params, env_id)
    if obs_mask:
        env = ObservationMask(env, params, obs_mask)
    return EpisodeStats(env, params), params


def _check_step_api(env: Any, env_params: Any, env_id: str) -> None:
    for method in ("reset", "step", "action_space", "observation_space"):
        if not callable(getattr(env, method, None)):
            raise ConfigError(f"environment {env_id!r} has no {method}(); gymnax envs need it")
    key = jax.random.PRNGKey(0)
    try:
        obs_shape, state_shape = jax.eval_shape(env.reset, key, env_params)
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
    if "final_observation" not in out[5]:
        raise ConfigError(
            f"environment {env_id!r} step() info lacks 'final_observation' (the pre-reset "
            "observation); subclass gymnax.environments.environment.Environment to get it"
        )
