"""The brax family: brax's physics environments (`brax.envs`) adapted to the protocol, with the
time limit and the auto-reset kept here so that terminations and truncations are exact."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from brax import envs as brax_envs
from flax import struct
from gymnax.environments import spaces

from purejaxppo.envs.autoreset import auto_reset
from purejaxppo.errors import ConfigError

# The backend used when env_kwargs name none. "mjx" (MuJoCo's own solver) and brax's default
# "generalized" both simulate the MuJoCo model as written (same timestep and frame skip);
# "spring" and "positional" swap in approximate dynamics and a shorter timestep, so they change
# the task. Of the faithful two, mjx stepped inverted_pendulum as fast or faster on this 2-core
# CPU (16 envs x 200 random steps, jitted: 10.6k-19.9k steps/s against 9.2k-9.7k for
# generalized, under load 6-10), with compile times alike (40-65 s).
DEFAULT_BACKEND = "mjx"


@struct.dataclass
class BraxParams:
    """The adapter's environment params (brax's own constants live in its environment)."""

    max_steps_in_episode: int = 1000  # time limit (a truncation); brax's usual episode_length


@struct.dataclass
class BraxEnvState:
    """A brax `State` of the current episode and the steps taken in it."""

    leaves: tuple[jax.Array, ...]  # the brax.envs.State's non-empty leaves (see BraxEnv._pack)
    time: jax.Array  # [] int32, steps taken since the episode's reset


def _float32(tree: Any) -> Any:
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


def _space_of(shape_tree: Any) -> Any:
    """A gymnax space for an observation's `eval_shape` (a dict of arrays gives a `Dict`)."""
    if isinstance(shape_tree, dict):
        return spaces.Dict({k: _space_of(v) for k, v in shape_tree.items()})
    return spaces.Box(-jnp.inf, jnp.inf, tuple(shape_tree.shape), jnp.float32)


class BraxEnv:
    """One brax environment behind the protocol (`purejaxppo.envs.protocol`), unbatched.

    brax's `done` is read as a termination (the task ended: a hopper fell, a pendulum tipped
    over); reaching `max_steps_in_episode` without one is a truncation. Where either holds,
    `step` returns a freshly reset episode and puts the observation the finished one ended on
    in `info["final_observation"]`. brax's EpisodeWrapper/AutoResetWrapper are not used: they
    merge the two signals into `done` and keep the pre-reset observation nowhere.
    """

    def __init__(self, name: str, brax_env: Any):
        self.brax_env = brax_env
        self._name = name
        self._action_size = int(brax_env.action_size)
        # orbax refuses to checkpoint zero-size arrays and mjx's state has several (e.g. `act`
        # without actuator activations), so the state keeps only the others; the empty ones
        # are rebuilt from their static shapes.
        shapes = jax.eval_shape(brax_env.reset, jax.random.PRNGKey(0))
        flat, self._treedef = jax.tree.flatten(shapes)
        self._empty = [leaf if leaf.size == 0 else None for leaf in flat]
        self._kept_dtypes = [leaf.dtype for leaf in flat if leaf.size != 0]
        self._observation_space = _space_of(shapes.obs)

    def _pack(self, brax_state: Any) -> tuple[jax.Array, ...]:
        # Leaves take the reset state's dtypes: brax returns some step fields as Python floats,
        # and the trainer's scan carry must not change type between steps.
        flat = self._treedef.flatten_up_to(brax_state)
        kept = [x for x, e in zip(flat, self._empty, strict=True) if e is None]
        return tuple(jnp.asarray(x, d) for x, d in zip(kept, self._kept_dtypes, strict=True))

    def brax_state(self, state: BraxEnvState) -> Any:
        """The brax `State` (pipeline_state, obs, reward, done, metrics, info) inside `state`."""
        kept = iter(state.leaves)
        flat = [next(kept) if e is None else jnp.zeros(e.shape, e.dtype) for e in self._empty]
        return self._treedef.unflatten(flat)

    @property
    def name(self) -> str:
        """The environment's id, `brax:NAME`."""
        return f"brax:{self._name}"

    @property
    def default_params(self) -> BraxParams:
        """`BraxParams()`: a 1000-step time limit."""
        return BraxParams()

    def reset(self, key: jax.Array, params: BraxParams) -> tuple[jax.Array, BraxEnvState]:
        """Starts an episode.

        Returns:
            (observation `[observation_size]` float32, state with `time` 0).
        """
        brax_state = self.brax_env.reset(key)
        state = BraxEnvState(leaves=self._pack(brax_state), time=jnp.int32(0))
        return _float32(brax_state.obs), state

    def step(
        self, key: jax.Array, state: BraxEnvState, action: jax.Array, params: BraxParams
    ) -> tuple[jax.Array, BraxEnvState, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        """One brax step with the time limit and auto-reset; `key` seeds the reset.

        Args:
            action: `[action_size]` in [-1, 1] (brax scales it to the actuators' range).

        Returns:
            (observation `[observation_size]` float32 (a new episode's where it ended), state,
            reward `[]` float32, terminated `[]` bool, truncated `[]` bool, info with
            `final_observation` `[observation_size]`: the observation before any reset).
        """
        stepped = self.brax_env.step(self.brax_state(state), jnp.asarray(action, jnp.float32))
        time = state.time + 1
        terminated = jnp.asarray(stepped.done) > 0.5
        truncated = jnp.logical_and(time >= params.max_steps_in_episode, ~terminated)
        # brax's step is deterministic, so `key` is the reset's alone
        after = auto_reset(
            key,
            jnp.logical_or(terminated, truncated),
            _float32(stepped.obs),
            BraxEnvState(leaves=self._pack(stepped), time=time),
            lambda reset_key: self.reset(reset_key, params),
        )
        info = {"final_observation": after.final_observation}
        reward = jnp.asarray(stepped.reward, jnp.float32)
        return after.obs, after.state, reward, terminated, truncated, info

    def action_space(self, params: BraxParams | None = None) -> spaces.Box:
        """`Box(-1, 1, (action_size,))`: brax's normalized actuator commands."""
        return spaces.Box(-1.0, 1.0, (self._action_size,), jnp.float32)

    def observation_space(self, params: BraxParams | None = None) -> Any:
        """`Box(-inf, inf, (observation_size,))` (a `Dict` of them for dict observations)."""
        return self._observation_space


def env_ids() -> list[str]:
    """brax's registered environment names (including `brax.envs.register_environment`'s)."""
    # brax has no public listing; get_environment itself reads this dict.
    return list(brax_envs._envs)


def make(name: str, **kwargs: Any) -> tuple[BraxEnv, BraxParams]:
    """Builds brax's `name` with `kwargs` (e.g. `backend`, default `DEFAULT_BACKEND`).

    Returns:
        (the adapted environment, `BraxParams()`).

    Raises:
        TypeError: keyword arguments brax's constructor rejects (the family reports them).
        ConfigError: brax's `episode_length` (use `env_params.max_steps_in_episode`), or a
            value brax rejects (an unknown backend).
    """
    if "episode_length" in kwargs:
        raise ConfigError(
            "brax's episode_length is the time limit here: set it with "
            f"--set 'env_params={{max_steps_in_episode: {kwargs['episode_length']}}}'"
        )
    kwargs.setdefault("backend", DEFAULT_BACKEND)
    try:
        brax_env = brax_envs.get_environment(name, **kwargs)
    except ValueError as error:
        raise ConfigError(f"brax:{name} with env_kwargs {kwargs!r}: {error}") from None
    env = BraxEnv(name, brax_env)
    return env, env.default_params
