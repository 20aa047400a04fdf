"""`make_env`: an environment id (bare gymnax id, `register_env` id or `family:name`) to a
wrapped protocol environment; the registry of your own ids."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from typing import Any

import jax

from purejaxppo.config_keys import suggest_key
from purejaxppo.envs.episode_stats import EpisodeStats
from purejaxppo.envs.families import FAMILIES, family_ids, make_in_family, split_id
from purejaxppo.envs.protocol import check_protocol
from purejaxppo.envs.wrappers import FlattenObservation, ObservationMask, is_flat
from purejaxppo.errors import ConfigError

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
    if ":" in env_id:
        raise ConfigError(
            f"register_env: {env_id!r} has a ':' (family prefixes are {', '.join(FAMILIES)}); "
            "pick an id without one"
        )
    if env_id in _REGISTRY and not overwrite and _REGISTRY[env_id] is not factory:
        raise ConfigError(
            f"register_env: {env_id!r} is registered already; pass overwrite=True to replace it"
        )
    _REGISTRY[env_id] = factory


def registered_env_ids(family: str | None = None) -> list[str]:
    """Ids the trainer can make without a family prefix: gymnax's (including ids registered
    with gymnax.registration) and those registered with `register_env`; with `family`, that
    family's ids, prefixed (importing its adapter: ConfigError if its extra is missing)."""
    if family is not None:
        if family not in FAMILIES:
            split_id(f"{family}:")  # raises the unknown-family error
        return family_ids(family)
    import gymnax

    return list(dict.fromkeys([*gymnax.registered_envs, *_REGISTRY]))


def _construct(env_id: str, env_kwargs: Mapping[str, Any]) -> tuple[Any, Any]:
    import gymnax

    family, name = split_id(env_id)
    if family is not None:
        return make_in_family(family, name, dict(env_kwargs))
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
    """Makes an environment wrapped with `EpisodeStats`: a `family:name` id through that
    family's adapter (`envs.families`), a bare id from `register_env`'s ids, else gymnax's.
    Pytree observations are flattened (`FlattenObservation`).

    Args:
        env_kwargs: keyword arguments of the environment's constructor (`gymnax.make`).
        env_params: fields of the environment's params to override (see `override_env_params`).
        obs_mask: flat observation indices to hide from the agent (`ObservationMask`).

    Returns:
        (wrapped environment, its `env_params` with the overrides applied).

    Raises:
        ConfigError: unknown family or id (listing the close ids), a family whose extra is
            not installed, bad keyword arguments or params fields, or an environment that
            does not follow the protocol (`envs.protocol`).
    """
    family, _ = split_id(env_id)
    known = registered_env_ids()
    if family is None and env_id not in known:
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
    check_protocol(env, params, env_id)
    if not is_flat(jax.eval_shape(env.reset, jax.random.PRNGKey(0), params)[0]):
        env = FlattenObservation(env)
    if obs_mask:
        env = ObservationMask(env, params, obs_mask)
    return EpisodeStats(env, params), params
