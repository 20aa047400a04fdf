"""The navix family: navix's MiniGrid ports behind the protocol (`envs.protocol`).

What the adapter maps:

- navix's `Timestep.step_type` gives the flags: TERMINATION is `terminated` (the goal, lava,
  a ball), TRUNCATION is `truncated` (navix's own time limit, `t >= max_steps`; navix never
  reports both).
- navix resets on the call *after* an episode ends; the adapter steps navix without that
  reset and resets in the step that ends the episode (`envs.autoreset`), so
  `info["final_observation"]` is exactly navix's observation of that step.
- The time limit is `NavixParams.max_steps_in_episode` (set it with `env_params`); the adapter
  hands it to navix as its `max_steps`, so navix's truncation (and its `penality_coeff`
  scaling, `t / max_steps`) follow it.
- Observations are navix's `symbolic_first_person` by default: the MiniGrid-style egocentric
  view, uint8 `[7, 7, 3]` (tag, colour, state per cell, the agent facing up), which does not
  grow with the grid and keeps the `[H, W, C]` layout a CNN wants (the MLP flattens and casts
  it). `env_kwargs: {observation_fn: symbolic}` gives the whole grid `[height, width, 3]`; any
  name in `navix.observations` or a callable works.
- Actions are `Discrete(7)`, navix's MiniGrid action set (0 turn left, 1 turn right,
  2 forward, 3 pick up, 4 drop, 5 toggle, 6 done).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import navix
from flax import struct
from gymnax.environments import spaces

from purejaxppo.envs.autoreset import auto_reset
from purejaxppo.errors import ConfigError

DEFAULT_OBSERVATION = "symbolic_first_person"
OBSERVATIONS = (
    "symbolic_first_person",
    "symbolic",
    "categorical_first_person",
    "categorical",
    "rgb_first_person",
    "rgb",
)
DEFAULT_MAX_STEPS = 100  # navix.make's own default


@struct.dataclass
class NavixParams:
    """The navix environment's params: only the time limit (navix keeps the rest in the
    environment object, fixed at `make`)."""

    # Static: navix's `max_steps` is a static field of its environment, so a new limit is a
    # new program (one compile per value), never a traced number.
    max_steps_in_episode: int = struct.field(pytree_node=False, default=DEFAULT_MAX_STEPS)


class NavixEnv:
    """One navix environment under the protocol; its state is navix's `Timestep`."""

    def __init__(self, env: navix.Environment, name: str):
        self.env = env
        self.name = name

    def _limited(self, params: NavixParams) -> navix.Environment:
        return self.env.replace(max_steps=int(params.max_steps_in_episode))

    def reset(self, key: jax.Array, params: NavixParams) -> tuple[jax.Array, navix.Timestep]:
        """A fresh episode.

        Returns:
            (observation, e.g. uint8 `[7, 7, 3]` for the default observation; navix's
            `Timestep` as the state).
        """
        timestep = self._limited(params).reset(key)
        return timestep.observation, timestep

    def step(
        self, key: jax.Array, state: navix.Timestep, action: jax.Array, params: NavixParams
    ) -> tuple[jax.Array, navix.Timestep, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        """One step with same-step auto-reset; `key` seeds the reset (navix's own dynamics
        draw from the key it keeps in its state).

        Returns:
            (obs, state, reward float32 `[]`, terminated bool `[]`, truncated bool `[]`,
            info with `final_observation`, the observation this step reached before any reset).
        """
        env = self._limited(params)
        # `_step` is navix's step without its next-call reset: that reset sits in a lax.cond,
        # which under vmap would compute a second, unused reset every step.
        stepped = env._step(state, jnp.asarray(action, jnp.int32))
        terminated = stepped.is_termination()
        truncated = stepped.is_truncation()

        def reset(reset_key: jax.Array) -> tuple[jax.Array, navix.Timestep]:
            # navix's own auto-reset reuses the rendering cache: it depends on the layout only
            fresh = env.reset(reset_key, stepped.state.cache)
            return fresh.observation, fresh

        out = auto_reset(key, terminated | truncated, stepped.observation, stepped, reset)
        reward = stepped.reward.astype(jnp.float32)
        info = {"final_observation": out.final_observation}
        return out.obs, out.state, reward, terminated, truncated, info

    def action_space(self, params: NavixParams | None = None) -> spaces.Discrete:
        """`Discrete(len(action_set))`: 7 for navix's MiniGrid action set."""
        return spaces.Discrete(len(self.env.action_set))

    def observation_space(self, params: NavixParams | None = None) -> spaces.Box:
        """A `Box` shaped like one observation (e.g. `[7, 7, 3]`), in navix's dtype and bounds."""
        space = self.env.observation_space
        return spaces.Box(space.minimum, space.maximum, tuple(space.shape), space.dtype)


def env_ids() -> list[str]:
    """navix's registered ids (`navix.registry()`), e.g. `Navix-Empty-5x5-v0`."""
    return list(navix.registry())


def _observation_fn(observation_fn: str | Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    if callable(observation_fn):
        return observation_fn
    if observation_fn not in OBSERVATIONS:
        raise ConfigError(
            f"navix observation_fn {observation_fn!r} is not one of {', '.join(OBSERVATIONS)}"
        )
    return getattr(navix.observations, observation_fn)


def make(
    name: str,
    max_steps: int = DEFAULT_MAX_STEPS,
    observation_fn: str | Callable[..., jax.Array] = DEFAULT_OBSERVATION,
    **kwargs: Any,
) -> tuple[NavixEnv, NavixParams]:
    """Builds navix's `name` with `navix.make(name, max_steps, observation_fn, **kwargs)`.

    Args:
        name: an id of `env_ids()`.
        max_steps: the default time limit (`NavixParams.max_steps_in_episode` overrides it).
        observation_fn: a name in `OBSERVATIONS` (or a callable `State -> Array`).
        **kwargs: navix constructor arguments (`reward_fn`, `gamma`, `penality_coeff`, ...).

    Returns:
        (the protocol environment, `NavixParams(max_steps_in_episode=max_steps)`).

    Raises:
        ConfigError: an unknown observation name. TypeError: an unknown keyword argument.
    """
    env = navix.make(
        name, max_steps=max_steps, observation_fn=_observation_fn(observation_fn), **kwargs
    )
    return NavixEnv(env, name), NavixParams(max_steps_in_episode=int(env.max_steps))
