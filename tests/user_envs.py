"""A user's environment module, as `--import user_envs` would load it: a corridor registered
with `purejaxppo.register_env`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

import purejaxppo


@struct.dataclass
class CorridorState(environment.EnvState):
    position: jax.Array


@struct.dataclass
class CorridorParams(environment.EnvParams):
    max_steps_in_episode: int = 40
    length: int = 6


class Corridor(environment.Environment):
    """Walk right to the end of a corridor: +1 at the end, -0.01 per step."""

    def __init__(self, step_cost: float = 0.01):
        super().__init__()
        self.step_cost = step_cost

    @property
    def default_params(self) -> CorridorParams:
        return CorridorParams()

    def reset_env(self, key, params):
        state = CorridorState(time=0, position=jnp.int32(0))
        return self._obs(state, params), state

    def step_env(self, key, state, action, params):
        position = jnp.clip(state.position + jnp.where(action == 1, 1, -1), 0, params.length - 1)
        at_goal = position == params.length - 1
        reward = jnp.where(at_goal, 1.0, 0.0) - self.step_cost
        state = CorridorState(time=state.time + 1, position=position)
        return self._obs(state, params), state, reward, at_goal, {}

    def _obs(self, state, params):
        return jnp.array([state.position / (params.length - 1)], jnp.float32)

    def action_space(self, params=None):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (1,), jnp.float32)


purejaxppo.register_env("UserCorridor-v0", Corridor)
