"""Tiny gymnax 1.x environments whose correct values and policies are known in closed form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces
from gymnax.registration import register, registered_envs


@struct.dataclass
class ProbeState(environment.EnvState):
    sign: jax.Array  # the observation's sign, for the observation-dependent probe


@struct.dataclass
class ProbeParams(environment.EnvParams):
    max_steps_in_episode: int = 1


class _Probe(environment.Environment):
    """Base: one scalar observation, two discrete actions (or one continuous action)."""

    continuous = False
    episode_steps = 1  # steps until a natural termination; 0 = never terminates

    def __init__(self, max_steps: int = 1):
        super().__init__()
        self.max_steps = max_steps

    @property
    def default_params(self) -> ProbeParams:
        return ProbeParams(max_steps_in_episode=self.max_steps)

    def _obs(self, state: ProbeState) -> jax.Array:
        return jnp.zeros((1,), jnp.float32)

    def reset_env(self, key, params):
        sign = jnp.where(jax.random.bernoulli(key), 1.0, -1.0)
        state = ProbeState(time=0, sign=sign)
        return self._obs(state), state

    def step_env(self, key, state, action, params):
        reward = self.reward(state, action)
        new_state = ProbeState(time=state.time + 1, sign=state.sign)
        terminated = (
            jnp.asarray(new_state.time >= self.episode_steps)
            if self.episode_steps
            else jnp.array(False)
        )
        return self._obs(new_state), new_state, reward, terminated, {}

    def reward(self, state, action):
        return jnp.float32(1.0)

    def action_space(self, params=None):
        if self.continuous:
            return spaces.Box(-2.0, 2.0, (1,), jnp.float32)
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(-1.0, 1.0, (1,), jnp.float32)


class ConstantReward(_Probe):
    """Reward 1, episodes of one step: V(s) = 1."""


class EndlessReward(_Probe):
    """Reward 1 forever, never terminates, truncated after `max_steps`: V(s) = 1 / (1 - gamma)."""

    episode_steps = 0


class MatchSign(_Probe):
    """Observation +1 or -1; reward 1 for action 1 on +1 and action 0 on -1; one-step episodes."""

    def _obs(self, state):
        return jnp.reshape(state.sign, (1,)).astype(jnp.float32)

    def reward(self, state, action):
        return jnp.where((action == 1) == (state.sign > 0), 1.0, 0.0).astype(jnp.float32)


class ContinuousTarget(_Probe):
    """One continuous action; reward -(a - 0.5)^2 in one-step episodes: the mean should reach 0.5."""

    continuous = True

    def reward(self, state, action):
        return -jnp.square(action[0] - 0.5).astype(jnp.float32)


class RecallCue(_Probe):
    """A memory probe: a cue of +1 or -1 is shown at the first step only; episodes last
    `CUE_STEPS` steps and the last step pays 1 for the action that matches the cue (action 1 on
    +1), 0 otherwise. The observation is (cue at t = 0 else 0, 1 at the last step else 0), so a
    feed-forward policy knows when to answer but not what: it scores 0.5 at best; a policy with
    memory scores 1."""

    episode_steps = 4

    def _obs(self, state):
        cue = jnp.where(state.time == 0, state.sign, 0.0)
        last = jnp.where(state.time == self.episode_steps - 1, 1.0, 0.0)
        return jnp.stack([cue, last]).astype(jnp.float32)

    def reward(self, state, action):
        at_end = state.time == self.episode_steps - 1
        right = (action == 1) == (state.sign > 0)
        return jnp.where(at_end & right, 1.0, 0.0).astype(jnp.float32)

    @property
    def default_params(self) -> ProbeParams:
        return ProbeParams(max_steps_in_episode=100)

    def observation_space(self, params):
        return spaces.Box(-1.0, 1.0, (2,), jnp.float32)


PROBES = {
    "ProbeRecallCue-v0": RecallCue,
    "ProbeConstant-v0": ConstantReward,
    "ProbeEndless-v0": EndlessReward,
    "ProbeMatchSign-v0": MatchSign,
    "ProbeContinuous-v0": ContinuousTarget,
}


def register_probes() -> None:
    """Registers every probe with gymnax once per process."""
    for env_id, factory in PROBES.items():
        if env_id not in registered_envs:
            register(env_id, factory)
