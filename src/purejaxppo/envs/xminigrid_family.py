"""The xland-minigrid family: xminigrid's environments behind the protocol (`envs.protocol`).

What the adapter maps:

- xminigrid's `TimeStep` gives the flags: `step_type == LAST` ends an episode and its
  `discount` says why: 0 where the goal was reached (`terminated`), 1 where the step count
  hit `max_steps` (`truncated`).
- xminigrid never resets by itself; the adapter resets in the step that ends the episode
  (`envs.autoreset`), so `info["final_observation"]` is exactly xminigrid's observation of
  that step.
- The time limit is `XMiniGridParams.max_steps_in_episode` (set it with `env_params`); the
  adapter hands it to xminigrid as its `EnvParams.max_steps`, so xminigrid's truncation and
  its reward, `1 - 0.9 * steps / max_steps` at the goal, follow it. The default is
  xminigrid's own (MiniGrid's `4 * height * width` for the ports).
- The rest of xminigrid's `EnvParams` (`height`, `width`, `view_size`, an XLand `ruleset`) is
  set with `env_kwargs` (xminigrid's constructors take no arguments of their own) and kept in
  `XMiniGridParams.family`.
- Observations are xminigrid's symbolic egocentric view, uint8 `[view_size, view_size, 2]`
  (tile id, colour; 7x7 by default), kept as `[H, W, C]` for a CNN (the MLP flattens and
  casts it).
- Actions are `Discrete(6)` (0 forward, 1 turn right, 2 turn left, 3 pick up, 4 put down,
  5 toggle).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import xminigrid
from flax import struct
from gymnax.environments import spaces
from xminigrid.core.constants import NUM_COLORS, NUM_TILES
from xminigrid.environment import Environment, EnvParams
from xminigrid.types import StepType, TimeStep

from purejaxppo.envs.autoreset import auto_reset


@struct.dataclass
class XMiniGridParams:
    """The time limit, and xminigrid's own params for everything else."""

    # Static, as xminigrid's `EnvParams.max_steps` is: a new limit is a new program.
    max_steps_in_episode: int = struct.field(pytree_node=False)
    family: EnvParams  # xminigrid's params; its `max_steps` is replaced by the field above

    def resolved(self) -> EnvParams:
        """xminigrid's params with `max_steps = max_steps_in_episode`."""
        return self.family.replace(max_steps=int(self.max_steps_in_episode))


class XMiniGridEnv:
    """One xminigrid environment under the protocol; its state is xminigrid's `TimeStep`."""

    def __init__(self, env: Environment, name: str):
        self.env = env
        self.name = name

    def reset(self, key: jax.Array, params: XMiniGridParams) -> tuple[jax.Array, TimeStep]:
        """A fresh episode.

        Returns:
            (observation uint8 `[view, view, 2]`, xminigrid's `TimeStep` as the state).
        """
        timestep = self.env.reset(params.resolved(), key)
        return timestep.observation, timestep

    def step(
        self, key: jax.Array, state: TimeStep, action: jax.Array, params: XMiniGridParams
    ) -> tuple[jax.Array, TimeStep, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        """One step with same-step auto-reset; `key` seeds the reset (xminigrid's step draws
        no randomness).

        Returns:
            (obs, state, reward float32 `[]`, terminated bool `[]`, truncated bool `[]`,
            info with `final_observation`, the observation this step reached before any reset).
        """
        family = params.resolved()
        stepped = self.env.step(family, state, jnp.asarray(action, jnp.int32))
        done = stepped.step_type == StepType.LAST
        terminated = done & (stepped.discount == 0.0)
        truncated = done & (stepped.discount != 0.0)

        def reset(reset_key: jax.Array) -> tuple[jax.Array, TimeStep]:
            fresh = self.env.reset(family, reset_key)
            return fresh.observation, fresh

        out = auto_reset(key, done, stepped.observation, stepped, reset)
        reward = jnp.asarray(stepped.reward, jnp.float32)
        info = {"final_observation": out.final_observation}
        return out.obs, out.state, reward, terminated, truncated, info

    def action_space(self, params: XMiniGridParams) -> spaces.Discrete:
        """`Discrete(6)`, xminigrid's action count."""
        return spaces.Discrete(self.env.num_actions(params.resolved()))

    def observation_space(self, params: XMiniGridParams) -> spaces.Box:
        """A uint8 `Box` shaped `[view, view, 2]` (tile ids and colour ids)."""
        shape = tuple(self.env.observation_shape(params.resolved()))
        return spaces.Box(0, max(NUM_TILES, NUM_COLORS) - 1, shape, jnp.uint8)


def env_ids() -> list[str]:
    """xminigrid's registered ids (`xminigrid.registered_environments()`), e.g.
    `MiniGrid-Empty-6x6` (the XLand ones start with an empty ruleset, no goal: pass one from
    `xminigrid.load_benchmark` as `ruleset` in Python `env_kwargs`)."""
    return list(xminigrid.registered_environments())


def make(name: str, **kwargs: Any) -> tuple[XMiniGridEnv, XMiniGridParams]:
    """Builds xminigrid's `name` with `xminigrid.make(name, **kwargs)`.

    Args:
        name: an id of `env_ids()`.
        **kwargs: fields of xminigrid's params (`height`, `width`, `view_size`, `max_steps`,
            an XLand `ruleset`): xminigrid's constructors take none of their own.

    Returns:
        (the protocol environment, `XMiniGridParams` whose `max_steps_in_episode` is
        xminigrid's `max_steps`).

    Raises:
        TypeError: a keyword that is not a field of the env's params.
    """
    env, family = xminigrid.make(name, **kwargs)
    return XMiniGridEnv(env, name), XMiniGridParams(
        max_steps_in_episode=int(family.max_steps), family=family
    )
