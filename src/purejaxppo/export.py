"""Trained runs for notebooks: `load_run` (config and metrics) and `load_policy` (a pure policy),
from a run folder or a member of a sweep folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.policy import PolicyFn, policy_of_run


@dataclasses.dataclass
class Run:
    """A run folder read back: its config and its metrics as written during training."""

    path: Path
    config: PPOConfig
    metrics: dict[str, np.ndarray]  # name -> [seeds, updates] float64 (NaN where blank/absent)

    @property
    def seeds(self) -> list[int]:
        """The integer seed of each run, in the order of the metrics' first axis."""
        seed = self.metrics.get("seed")
        return [] if seed is None else [int(s) for s in seed[:, 0]]


def member_dir(path: str | Path, run: int | None = None) -> Path:
    """The run folder that `path` and `run` name: `path` itself, or setting `run`'s
    `runs/<run>/` in the sweep folder `path` (written by `purejaxppo sweep --save-params`).

    Raises:
        ConfigError: a sweep folder without `run`, `run` for a folder that is no sweep, or a
            sweep that kept no params (or not for that setting); the message names the fix.
    """
    from purejaxppo.io.files import CONFIG_FILE
    from purejaxppo.sweep_layout import SWEEP_FILE
    from purejaxppo.sweep_output import RUNS_DIR

    path = Path(path)
    is_sweep = (path / SWEEP_FILE).is_file() and not (path / CONFIG_FILE).is_file()
    if run is None:
        if is_sweep:
            raise ConfigError(
                f"{path} is a sweep folder; choose one of its settings with --run K (Python: "
                "run=K), K being the setting column of its results.csv"
            )
        return path
    if not is_sweep:
        raise ConfigError(f"--run {run}: {path} is not a sweep folder ({SWEEP_FILE} is missing)")
    folder = path / RUNS_DIR / str(run)
    if not (folder / CONFIG_FILE).is_file():
        kept = sorted(int(p.name) for p in (path / RUNS_DIR).glob("*") if p.name.isdigit())
        if not kept:
            raise ConfigError(
                f"the sweep in {path} kept no params; rerun the sweep with --save-params"
            )
        raise ConfigError(f"--run {run}: no such setting in {path}; it has {kept[0]}..{kept[-1]}")
    return folder


def run_config(run_dir: str | Path, network: Any = None) -> PPOConfig:
    """The config a run folder was trained with (its `config.yaml`); `network`, if given,
    replaces the recorded one (needed for a network given as a Python object, which
    config.yaml can only name as `python:<Name>`)."""
    from purejaxppo.io.files import CONFIG_FILE
    from purejaxppo.loading import config_from_dict, read_yaml_mapping

    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a run folder: {CONFIG_FILE} is missing")
    values = read_yaml_mapping(path)
    if network is not None:
        values.pop("network", None)
    config = config_from_dict(values, source=str(path))
    return config if network is None else config.replace(network=network)


def load_run(run_dir: str | Path, run: int | None = None, network: Any = None) -> Run:
    """Reads a run folder's config and `metrics.csv` (empty metrics if no update finished yet);
    for a sweep folder, those of setting `run` (see `member_dir`).

    Returns:
        `Run` with `config` and `metrics` (name -> `[seeds, updates]`, including `seed` and
        `update` columns).
    """
    from purejaxppo.io.files import METRICS_FILE, read_metrics_csv

    run_dir = member_dir(run_dir, run)
    config = run_config(run_dir, network)
    path = Path(run_dir) / METRICS_FILE
    metrics = read_metrics_csv(path) if path.is_file() else {}
    return Run(path=Path(run_dir), config=config, metrics=metrics)


def restore_run(
    run_dir: str | Path, step: int | None = None, run: int | None = None, network: Any = None
):
    """Restores a run's checkpoint: `step`, or the newest valid one (for a sweep folder, of
    setting `run`: see `member_dir`).

    Returns:
        (config, `Checkpoint` whose state leaves are batched `[seeds, ...]`).
    """
    from purejaxppo.io.checkpoint import CHECKPOINT_DIR, CheckpointStore

    run_dir = member_dir(run_dir, run)
    config = run_config(run_dir, network)
    store = CheckpointStore(Path(run_dir) / CHECKPOINT_DIR, create=False)
    try:
        meta = store.read_meta(step)
        return config, store.restore(config, int(meta["num_seeds"]), step)
    finally:
        store.close()


def seed_index(meta: dict[str, Any], seed: int) -> int:
    """Position of the run trained with integer `seed` in a checkpoint's batched state."""
    first, count = int(meta["seed"]), int(meta["num_seeds"])
    if not first <= seed < first + count:
        raise ConfigError(
            f"seed {seed} is not in this run; it trained seeds {first}..{first + count - 1}"
        )
    return seed - first


def load_policy(
    run_dir: str | Path,
    seed: int = 0,
    deterministic: bool = False,
    step: int | None = None,
    run: int | None = None,
    network: Any = None,
) -> PolicyFn:
    """A trained policy as a pure function, with observation normalization folded in.

    Args:
        run_dir: a run folder written by `purejaxppo train`, or a sweep folder (with `run`).
        seed: which of the run's seeds (its integer seed, as in `metrics.csv`).
        deterministic: take the most likely action (the `key` argument is then ignored).
        step: a checkpoint's update number (default: the newest valid checkpoint).
        run: the setting of a sweep folder written with `--save-params`.
        network: the network object the run was trained with, when it was given from Python
            (config.yaml names it `python:<Name>`); an importable one is rebuilt by itself.

    Returns:
        `policy(obs, key=None, action_mask=None) -> action` for raw observations
        `[*obs_shape]` or `[batch, *obs_shape]`; actions `[]`/`[batch]` (discrete), `[...,
        len(nvec)]` (multi-discrete) or `[..., A]` (continuous). jit/vmap-able. It also
        carries `.params`, `.obs_stats`, `.config`, `.step` and `.masked`. A recurrent policy
        (`recurrent: gru|lstm`) is `policy(obs, carry, key=None, action_mask=None) -> (action,
        carry)`: start from `policy.initial_carry(batch=None)` and call `carry =
        policy.reset(carry, done)` where an episode ended (zeros those rows).
        Where the run's environment has `action_mask` (`policy.masked`), `action_mask`
        (bool `[size]` or `[batch, size]`, e.g. `env.action_mask(state, params)`) is required
        and the policy, greedy or sampled, picks legal actions only.
    """
    config, checkpoint = restore_run(run_dir, step, run, network)
    index = seed_index(checkpoint.meta, seed)
    policy = policy_of_run(config, checkpoint.state, index, deterministic)
    policy.step = checkpoint.step
    return policy


def policy_from_result(result: Any, index: int = 0, deterministic: bool = False) -> PolicyFn:
    """The policy of run `index` of an in-memory `TrainResult` (e.g. from `train_seeds`), with
    observation normalization folded in; the same contract as `load_policy`'s policy.

    Returns:
        `policy(obs, key=None, action_mask=None) -> action`, jit/vmap-able, carrying
        `.params` and `.obs_stats`.
    """
    if not 0 <= index < result.num_seeds:
        raise ConfigError(
            f"index {index} is out of range: the result holds {result.num_seeds} runs"
        )
    return policy_of_run(result.config, result.runner_state, index, deterministic)
