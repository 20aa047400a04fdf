"""The jumanji family: jumanji's `(state, TimeStep)` environments under the protocol, with the
auto-reset, the final observation, the time limit and the action mask done by the adapter."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jumanji
import numpy as np
from flax import struct
from gymnax.environments import spaces
from jumanji import specs

from purejaxppo.envs.autoreset import auto_reset
from purejaxppo.envs.protocol import MultiDiscrete
from purejaxppo.errors import ConfigError

_NO_LIMIT = 2**31 - 1
# Environments whose `time_limit` enters only their `done` (and spec bounds): the adapter builds
# them without it and applies it itself, as a truncation. Several of them end at the limit with
# discount 0, which would otherwise read as a termination. Elsewhere `time_limit` also shapes
# arrays or rewards (MMST, SearchAndRescue) or is already a truncation (LevelBasedForaging).
_LIMIT_MOVED = frozenset(
    {
        "Snake",
        "Cleaner",
        "PacMan",
        "Maze",
        "Connector",
        "RobotWarehouse",
        "Sokoban",
        "Tetris",
        "SlidingTilePuzzle",
        "RubiksCube",
    }
)


@struct.dataclass
class JumanjiParams:
    """The adapter's params (jumanji keeps its settings in the environment object)."""

    max_steps_in_episode: int = _NO_LIMIT  # time limit applied here, as truncation


@struct.dataclass
class JumanjiState:
    """jumanji's state plus what the adapter tracks."""

    env_state: Any
    action_mask: Any  # bool [num_actions] (or [sum(nvec)]) from the last observation; or None
    step_count: jax.Array  # [] int32 steps since the episode's reset


def env_ids() -> list[str]:
    """jumanji's registered ids (`jumanji.registered_environments()`), sorted."""
    return sorted(jumanji.registered_environments())


def _action_space(spec: Any, name: str) -> Any:
    """The gymnax-style space of a jumanji action spec (checked in this order: a
    `MultiDiscreteArray` is a `BoundedArray` too)."""
    if isinstance(spec, specs.DiscreteArray):
        return spaces.Discrete(int(spec.num_values))
    if isinstance(spec, specs.MultiDiscreteArray):
        return MultiDiscrete(np.asarray(spec.num_values).ravel().tolist())
    if isinstance(spec, specs.BoundedArray) and len(spec.shape) == 1:
        return spaces.Box(jnp.asarray(spec.minimum), jnp.asarray(spec.maximum), spec.shape)
    raise ConfigError(
        f"jumanji:{name} has action spec {spec!r}; purejaxppo supports DiscreteArray, "
        "MultiDiscreteArray and 1-D BoundedArray"
    )


def _has_matching_mask(obs_spec: Any, space: Any) -> bool:
    """Whether the observation has an `action_mask` with one entry per action of each component
    (False for no mask, or for a joint mask over combinations of components)."""
    mask = getattr(obs_spec, "action_mask", None)
    if not isinstance(mask, specs.Array):
        return False
    if isinstance(space, spaces.Discrete):
        return tuple(mask.shape) == (space.n,)
    if isinstance(space, MultiDiscrete) and len(set(space.nvec)) == 1:
        return int(np.prod(mask.shape)) == sum(space.nvec)
    return False


def _space_of(spec: Any, drop: tuple[str, ...] = ()) -> Any:
    """A gymnax `Box` for an array spec (its bounds where it has them), a `Dict` for a nested
    spec (its fields minus `drop`)."""
    if isinstance(spec, specs.Array):
        low = getattr(spec, "minimum", -jnp.inf)
        high = getattr(spec, "maximum", jnp.inf)
        return spaces.Box(jnp.asarray(low), jnp.asarray(high), tuple(spec.shape), spec.dtype)
    names = [n for n in spec.generate_value()._asdict() if n not in drop]
    return spaces.Dict({n: _space_of(spec[n]) for n in names})


class JumanjiEnv:
    """A jumanji environment under the protocol.

    `terminated` is a LAST step with discount 0; `truncated` a LAST step with discount 1, or
    `params.max_steps_in_episode` steps since the reset when the episode has not terminated.
    NamedTuple observations become dicts of their fields (the trainer flattens them), without
    `action_mask` when the adapter exposes it through `action_mask(state, params)`.
    Multi-agent rewards are summed (one controller acts for the team).
    """

    def __init__(self, inner: Any, name: str, masked: bool):
        self.inner = inner
        self.name = name
        self._masked = masked
        self._space = _action_space(inner.action_spec, name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def _observation(self, obs: Any) -> Any:
        if not hasattr(obs, "_asdict"):
            return obs
        fields = obs._asdict()
        if self._masked:
            fields.pop("action_mask")
        return fields

    def _mask(self, obs: Any) -> Any:
        return jnp.ravel(obs.action_mask).astype(bool) if self._masked else None

    def reset(self, key: jax.Array, params: JumanjiParams) -> tuple[Any, JumanjiState]:
        """Returns (observation pytree, state) of a fresh episode."""
        env_state, timestep = self.inner.reset(key)
        obs = timestep.observation
        state = JumanjiState(env_state, self._mask(obs), jnp.int32(0))
        return self._observation(obs), state

    def step(
        self, key: jax.Array, state: JumanjiState, action: jax.Array, params: JumanjiParams
    ) -> tuple[Any, JumanjiState, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        """One step with auto-reset (jumanji's step takes no key: `key` seeds the reset).

        Args:
            action: int32 `[]` (discrete), `[len(nvec)]` (multi-discrete, reshaped to the
                spec's shape here) or float32 `[A]`.

        Returns:
            (obs, state, reward float32 `[]`, terminated bool `[]`, truncated bool `[]`,
            info with `final_observation`); where the episode ended, obs/state are a fresh
            episode's.
        """
        action = jnp.reshape(action, self.inner.action_spec.shape)
        env_state, timestep = self.inner.step(state.env_state, action)
        count = state.step_count + 1
        last = timestep.step_type == jnp.int8(2)  # jumanji's StepType.LAST
        terminated = jnp.logical_and(last, jnp.all(timestep.discount == 0))
        time_up = count >= params.max_steps_in_episode
        truncated = jnp.logical_and(jnp.logical_or(last, time_up), jnp.logical_not(terminated))
        done = jnp.logical_or(terminated, truncated)
        ended = JumanjiState(env_state, self._mask(timestep.observation), count)
        obs = self._observation(timestep.observation)
        after = auto_reset(key, done, obs, ended, lambda k: self.reset(k, params))
        reward = jnp.sum(timestep.reward).astype(jnp.float32)
        info = {"final_observation": after.final_observation}
        return after.obs, after.state, reward, terminated, truncated, info

    def action_space(self, params: Any = None) -> Any:
        """`Discrete(n)`, `MultiDiscrete(nvec)` (the spec's `num_values`, flattened) or `Box`."""
        return self._space

    def observation_space(self, params: Any = None) -> Any:
        """A gymnax `Dict` of `Box`es, one per observation field (an array spec: one `Box`)."""
        drop = ("action_mask",) if self._masked else ()
        return _space_of(self.inner.observation_spec, drop)


class MaskedJumanjiEnv(JumanjiEnv):
    """A jumanji environment whose observation's `action_mask` matches its action space: the
    mask leaves the observation and is the protocol's `action_mask`."""

    def action_mask(self, state: JumanjiState, params: Any) -> jax.Array:
        """bool `[num_actions]` (`[sum(nvec)]` multi-discrete): the legal actions in `state`,
        as jumanji gives them (all False for a trapped Snake, whose next step ends it)."""
        return state.action_mask


def make(name: str, **kwargs: Any) -> tuple[JumanjiEnv, JumanjiParams]:
    """Makes jumanji environment `name` (`jumanji.make(name, **kwargs)`).

    Where the environment's `time_limit` only ends episodes (`_LIMIT_MOVED`), it is built
    without one and the limit becomes the default `max_steps_in_episode`, applied here as a
    truncation (override it with `env_params`); elsewhere the default adds no limit.

    Returns:
        (the protocol environment, `JumanjiParams`).
    """
    inner = jumanji.make(name, **kwargs)
    limit = getattr(inner, "time_limit", None)
    params = JumanjiParams()
    if type(inner).__name__ in _LIMIT_MOVED and isinstance(limit, int):
        inner = jumanji.make(name, **{**kwargs, "time_limit": _NO_LIMIT})
        params = JumanjiParams(max_steps_in_episode=limit)
    space = _action_space(inner.action_spec, name)
    masked = _has_matching_mask(inner.observation_spec, space)
    cls = MaskedJumanjiEnv if masked else JumanjiEnv
    return cls(inner, name, masked), params
