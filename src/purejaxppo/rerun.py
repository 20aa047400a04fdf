"""Train a finished run again, bit for bit: a run folder's whole batch, or a sweep member.

A run inside a batch is the same computation as the run alone only up to floating-point
reduction order (vmap batches the matrix products), and RL amplifies the last bit into a
different learning curve. So the exact way to get run i back is to rebuild the batch it was
trained in: the same config, seeds, batch shape and device layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from purejaxppo.config import ConfigError


def rerun(
    path: str | Path, seed: int | None = None, setting: int | None = None
) -> dict[str, np.ndarray]:
    """Trains the batch a run was part of again and returns its metrics, equal bit for bit to
    the ones written (on the same device layout).

    Args:
        path: a run folder of `purejaxppo train` (its `config.yaml` and checkpoint metadata
            give the config, first seed, seed count and chunking), or a sweep folder
            (`sweep.yaml`; see `purejaxppo.sweep.rerun_member`).
        seed: for a run folder, the integer seed wanted (default: all of the batch's seeds).
        setting: for a sweep folder, the setting index (required there).

    Returns:
        name -> `[seeds, updates]` metrics (`[1, updates]` when `seed` is given).

    Raises:
        ConfigError: neither kind of folder, or a seed / setting it does not hold.
    """
    from purejaxppo.sweep_layout import SWEEP_FILE, rerun_member

    folder = Path(path)
    if (folder / SWEEP_FILE).is_file():
        if setting is None:
            raise ConfigError(f"{folder} is a sweep folder: pass setting=K (the results.csv index)")
        from purejaxppo.export import seed_index
        from purejaxppo.loading import read_yaml_mapping

        data = read_yaml_mapping(folder / SWEEP_FILE)
        index = (
            None
            if seed is None
            else seed_index({"seed": data["seed"], "num_seeds": data["seeds"]}, seed)
        )
        metrics = rerun_member(folder, setting)
        return metrics if index is None else {n: v[index][None] for n, v in metrics.items()}
    if setting is not None:
        raise ConfigError(f"{folder} is a run folder, not a sweep folder: drop setting")
    return _rerun_run_folder(folder, seed)


def _rerun_run_folder(folder: Path, seed: int | None) -> dict[str, np.ndarray]:
    from purejaxppo.driver import train_chunked
    from purejaxppo.export import run_config, seed_index
    from purejaxppo.io.checkpoint import CHECKPOINT_DIR, CheckpointStore

    config = run_config(folder)
    store = CheckpointStore(folder / CHECKPOINT_DIR, create=False)
    try:
        meta = store.read_meta()
    finally:
        store.close()
    first, count = int(meta["seed"]), int(meta["num_seeds"])
    index = None if seed is None else seed_index(meta, seed)
    result = train_chunked(config, count, first, chunk_updates=meta.get("chunk_updates"))
    metrics = dict(result.metrics)
    metrics["seed"] = np.repeat(result.seeds[:, None], config.num_updates, axis=1)
    if index is None:
        return metrics
    return {n: v[index][None] for n, v in metrics.items()}
