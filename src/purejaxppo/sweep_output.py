"""The files of a sweep folder written after training: best.yaml (with how to retrain it),
sweep.yaml (how to run it again, batch layout included) and the optional run folder per setting."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from purejaxppo.sweep_layout import SWEEP_FILE
from purejaxppo.sweep_plan import static_key
from purejaxppo.sweep_results import SweepResult

BEST_FILE = "best.yaml"
RUNS_DIR = "runs"  # runs/<setting>/: a train-style run folder per setting (--save-params)


def seeds_text(seeds: Any) -> str:
    """`"4 seeds (0..3)"` / `"1 seed (5)"` for consecutive integer seeds."""
    seeds = [int(s) for s in seeds]
    span = f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else f"{seeds[0]}"
    return f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} ({span})"


def retrain_command(out: str | Path, result: SweepResult) -> str:
    """The `purejaxppo train` command that retrains the best setting with the sweep's seeds."""
    seeds = result.seeds
    best = shlex.quote(str(Path(out) / BEST_FILE))
    return f"purejaxppo train --config {best} --seeds {len(seeds)} --seed {int(seeds[0])}"


def write_best_yaml(out: str | Path, result: SweepResult) -> Path:
    """Writes `best.yaml`: the best setting's full config (loadable by `train --config`), under
    a comment header naming the setting, its seeds and the command that retrains it with them.

    Returns:
        The path written.
    """
    from purejaxppo.io.files import atomic_write_text
    from purejaxppo.loading import config_to_dict

    best = result.ranking()[0]
    mean = result.statistics()["mean"][best]
    header = [
        f"# The best setting ({best}) of the sweep in {out}: mean final return {mean:.2f} over "
        f"{seeds_text(result.seeds)}.",
        "# `train` takes no seeds from a config file; to retrain it with the same seeds:",
        f"#   {retrain_command(out, result)}",
        "# A run trained alone is a run of the same distribution as the sweep's, not the same",
        "# bits (batching changes float rounding); purejaxppo.sweep.rerun_member gets the bits.",
    ]
    text = "\n".join(header) + "\n"
    text += yaml.safe_dump(config_to_dict(result.configs[best]), sort_keys=False)
    return atomic_write_text(Path(out) / BEST_FILE, text)


def write_sweep_yaml(out: str | Path, result: SweepResult, save_params: bool = False) -> Path:
    """Writes `sweep.yaml`: base config, every setting, seeds and the batch layout, so that
    `purejaxppo sweep --sweep DIR/sweep.yaml` runs the same sweep again (same bits on the same
    devices) and `rerun_member` can rebuild any member's batch.

    Returns:
        The path written.
    """
    from purejaxppo.io.files import write_config_yaml
    from purejaxppo.loading import config_to_dict

    plain = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in s.items()} for s in result.settings
    ]
    data = {"config": config_to_dict(result.config), "list": plain}
    data |= {"seeds": len(result.seeds), "seed": int(result.seeds[0]), "layout": result.layout}
    if save_params:
        data["save_params"] = True
    return write_config_yaml(Path(out) / SWEEP_FILE, data)


def write_member_runs(out: str | Path, result: SweepResult) -> list[Path]:
    """Writes `runs/<K>/` for every setting K: `config.yaml` (its full config), `metrics.csv` (its
    seeds) and `checkpoints/` (the final batched state of its seeds, with the metadata `train`
    writes), so `eval`, `render`, `load_policy` and `load_run` read it like a trained run.

    Returns:
        The run folders written, in setting order.

    Raises:
        ValueError: the result kept no runner states (`sweep(..., keep_states=True)`).
    """
    from purejaxppo.io.checkpoint import CHECKPOINT_DIR, CheckpointStore
    from purejaxppo.io.files import (
        CONFIG_FILE,
        METRICS_FILE,
        atomic_write_text,
        metrics_csv_text,
        write_config_yaml,
    )
    from purejaxppo.loading import config_to_dict

    if result.runner_states is None:
        raise ValueError("the sweep kept no runner states; run it with keep_states=True")
    layout, paths = result.layout or {}, []
    program = {i: g for g, ids in enumerate(_groups(result)) for i in ids}
    for k, config in enumerate(result.configs):
        folder = Path(out) / RUNS_DIR / str(k)
        write_config_yaml(folder / CONFIG_FILE, config_to_dict(config))
        atomic_write_text(folder / METRICS_FILE, metrics_csv_text(result.metrics[k], result.seeds))
        meta = {"seed": int(result.seeds[0]), "num_seeds": len(result.seeds)}
        meta |= {"config": config_to_dict(config), "checkpoint_every": config.num_updates}
        meta |= {"sweep_setting": k}
        chunks = layout.get("chunk_updates")
        if chunks:
            meta["chunk_updates"] = int(chunks[program[k]])
        store = CheckpointStore(folder / CHECKPOINT_DIR, keep=1)
        try:
            store.save(result.runner_states[k], meta)
        finally:
            store.close()
        paths.append(folder)
    return paths


def _groups(result: SweepResult) -> list[list[int]]:
    """Setting ids per compiled program, in the order `plan_groups` forms them."""
    groups: dict[tuple, list[int]] = {}
    for i, setting in enumerate(result.settings):
        groups.setdefault(static_key(setting), []).append(i)
    return list(groups.values())
