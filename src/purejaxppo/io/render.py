"""Animated GIF of one episode of a trained policy, drawn with gymnax's visualizer."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from purejaxppo.config import ConfigError
from purejaxppo.io.optional import check_installed

# gymnax draws these through gymnasium's classic-control renderers, which import pygame.
NEEDS_PYGAME = (
    "Acrobot-v1",
    "CartPole-v1",
    "Pendulum-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
)
# The environments gymnax.visualize.Visualizer can draw (classic control, MinAtar, a few more).
DRAWABLE = (
    *NEEDS_PYGAME,
    "Asterix-MinAtar",
    "Breakout-MinAtar",
    "Freeway-MinAtar",
    "Seaquest-MinAtar",
    "SpaceInvaders-MinAtar",
    "Catch-bsuite",
    "Pong-misc",
)
INSTALL_HINT = 'pip install "purejaxppo[render]" (or pip install pygame)'


def check_drawable(env_id: str) -> None:
    """Raises `ConfigError` for an environment gymnax's visualizer cannot draw, or one whose
    drawing needs pygame when pygame is not installed (one line naming `INSTALL_HINT`)."""
    if env_id not in DRAWABLE:
        raise ConfigError(
            f"cannot render {env_id}: gymnax's visualizer draws only {', '.join(DRAWABLE)}"
        )
    if env_id in NEEDS_PYGAME:
        check_installed("pygame", f"rendering {env_id}", INSTALL_HINT)


def check_run_drawable(run_dir: str | Path) -> None:
    """`check_drawable` for the environment a run folder was trained on, reading only its
    `config.yaml`, so a command can refuse before it writes anything. A folder without one is
    left to the command's own checks (its `--out` path first, then the folder itself)."""
    from purejaxppo.export import run_config
    from purejaxppo.io.files import CONFIG_FILE

    if (Path(run_dir) / CONFIG_FILE).is_file():
        check_drawable(run_config(run_dir).env_id)


def play_episode(train: Any, policy: Any, seed: int = 0, max_steps: int | None = None):
    """Plays one episode of `policy` (from `load_policy`) in `train.env` from a reset drawn
    with `seed`.

    Returns:
        (list of the gymnax env states the policy acted on, one per step, `[T]` raw rewards).
    """
    from purejaxppo.evaluate import episode_steps

    env, env_params = train.env, train.env_params
    steps = episode_steps(env, env_params, max_steps)

    @jax.jit
    def rollout(key):
        key, reset_key = jax.random.split(key)
        obs, state = env.reset(reset_key, env_params)

        recurrent = getattr(policy, "recurrent", False)

        def step(loop, _):
            obs, state, memory, key = loop
            key, act_key, env_key = jax.random.split(key, 3)
            if recurrent:  # the carry goes through the episode; render stops at its end
                action, memory = policy(obs, memory, act_key)
            else:
                action = policy(obs, act_key)
            next_obs, next_state, reward, terminated, truncated, _ = env.step(
                env_key, state, action, env_params
            )
            done = jax.numpy.logical_or(terminated, truncated)
            return (next_obs, next_state, memory, key), (state.env_state, reward, done)

        memory = policy.initial_carry() if recurrent else ()
        _, trace = jax.lax.scan(step, (obs, state, memory, key), None, length=steps)
        return trace

    states, rewards, done = jax.device_get(rollout(jax.random.PRNGKey(seed)))
    length = int(np.argmax(done)) + 1 if done.any() else steps
    frames = [jax.tree.map(lambda x, t=t: x[t], states) for t in range(length)]
    return frames, np.asarray(rewards[:length], np.float64)


def write_gif(env: Any, env_params: Any, frames: list, rewards: np.ndarray, out: Path) -> Path:
    """Draws `frames` (states of the gymnax environment `env`) with gymnax's `Visualizer` into
    the GIF `out`, written whole (temp file + rename).

    Returns:
        `out`, as a `Path`.
    """
    check_drawable(env.name)
    import matplotlib

    matplotlib.use("Agg")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame draws off-screen, silently
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".gif", dir=out.parent)
    os.close(fd)
    try:
        from gymnax.visualize import Visualizer

        Visualizer(env, env_params, frames, np.cumsum(rewards)).animate(tmp)
        if os.path.getsize(tmp) == 0:
            raise RuntimeError("the visualizer wrote an empty file")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except ModuleNotFoundError as error:
        raise ConfigError(
            f"rendering {env.name} needs {error.name}: pip install {error.name}"
        ) from None
    except Exception as error:
        missing = _dependency_not_installed(error)
        if missing is not None:
            raise ConfigError(f"rendering {env.name}: {missing}; {INSTALL_HINT}") from None
        raise
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def _dependency_not_installed(error: BaseException) -> BaseException | None:
    """gymnasium's `DependencyNotInstalled` in `error`'s chain, if any. matplotlib raises its own
    IndexError while closing an animation whose first frame failed, hiding gymnasium's error
    behind it, so the whole chain is searched."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if type(error).__name__ == "DependencyNotInstalled":
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def render_run(
    run_dir: str | Path,
    out: str | Path,
    seed: int = 0,
    deterministic: bool = True,
    max_steps: int | None = None,
    episode_seed: int = 0,
) -> tuple[Path, int, float]:
    """Renders one episode of seed `seed`'s newest valid checkpoint of a run to a GIF.

    Returns:
        (path written, episode length in steps, episode return).
    """
    from purejaxppo.export import load_policy, run_config
    from purejaxppo.train import make_train

    config = run_config(run_dir)
    check_drawable(config.env_id)
    policy = load_policy(run_dir, seed=seed, deterministic=deterministic)
    train = make_train(config)
    frames, rewards = play_episode(train, policy, episode_seed, max_steps)
    path = write_gif(train.env.env, train.env_params, frames, rewards, Path(out))
    return path, len(frames), float(rewards.sum())
