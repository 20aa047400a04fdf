"""Checkpoints of a whole batched run with orbax: save, keep the last k, restore the newest valid."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.run_axis import to_host
from purejaxppo.types import RunnerState

CHECKPOINT_DIR = "checkpoints"  # inside a run folder: one sub-folder per saved update
FORMAT = 1  # version of the metadata written beside each state


@dataclasses.dataclass
class Checkpoint:
    """A restored checkpoint: the batched state (leaves `[seeds, ...]`) and its metadata."""

    step: int  # updates completed when it was saved
    state: RunnerState
    meta: dict[str, Any]  # format, update, seed, num_seeds, config (flat dict), digest
    path: Path
    extra: dict[str, Any] | None = None  # arrays saved beside the state (e.g. a population's)


def state_digest(state: Any) -> str:
    """SHA-256 over every leaf's dtype, shape and bytes: detects a checkpoint that restores but
    holds other numbers than were saved."""
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(state):
        array = np.ascontiguousarray(to_host(leaf))  # gathered from every process if sharded
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def abstract_state(config: PPOConfig, num_seeds: int) -> RunnerState:
    """The batched `RunnerState` of `num_seeds` runs as `jax.ShapeDtypeStruct` leaves: the
    target orbax restores into (so leaves come back as the right classes and shapes)."""
    from purejaxppo.parallel import seed_keys
    from purejaxppo.train import make_train

    init = jax.vmap(make_train(config).init, in_axes=(0, None))
    return jax.eval_shape(init, seed_keys(0, num_seeds), config.hparams)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:160] if text else ''}"


class CheckpointStore:
    """The `checkpoints/` folder of a run. Orbax writes each step into a temporary folder and
    renames it when complete, so a crash mid-save never leaves a step that looks finished."""

    def __init__(self, directory: str | Path, keep: int = 3, create: bool = True):
        import orbax.checkpoint as ocp

        if keep < 1:
            raise ConfigError(f"--keep must be a positive integer, got {keep}")
        self.directory = Path(directory).absolute()
        if not create and not self.directory.is_dir():
            raise ConfigError(
                f"no checkpoints in {self.directory.parent}: {self.directory} is missing"
            )
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=create, enable_async_checkpointing=False
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        """Saved steps (updates completed), oldest first."""
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def save(
        self, state: RunnerState, meta: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> Path:
        """Saves the batched `state` at its update counter with `meta` (plus update and digest)
        and, if given, `extra` (a dict pytree of arrays, restored as NumPy arrays; the digest
        covers it too); a step already saved is left as it is. Returns the step's folder."""
        import orbax.checkpoint as ocp

        step = int(to_host(state.update).reshape(-1)[0])
        if step not in self.steps():
            digest = state_digest(state if extra is None else (state, extra))
            meta = {**meta, "format": FORMAT, "update": step, "digest": digest}
            meta.update({"has_extra": True} if extra is not None else {})
            items = {"state": ocp.args.StandardSave(state), "meta": ocp.args.JsonSave(meta)}
            if extra is not None:
                items["extra"] = ocp.args.StandardSave(extra)
            self._manager.save(step, args=ocp.args.Composite(**items))
            self._manager.wait_until_finished()
        return self.directory / str(step)

    def read_meta(self, step: int | None = None) -> dict[str, Any]:
        """The metadata of `step` (default: the newest step whose metadata reads back), without
        restoring any array. Raises `ConfigError` when there is none."""
        import orbax.checkpoint as ocp

        steps = self.steps()
        if step is not None and step not in steps:
            raise ConfigError(f"no checkpoint at update {step} in {self.directory}; saved: {steps}")
        for candidate in reversed([step] if step is not None else steps):
            try:
                restored = self._manager.restore(
                    candidate, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
                )
                return dict(restored.meta)
            except Exception:  # noqa: BLE001, S112 - unreadable metadata: look at the previous step
                continue
        raise ConfigError(f"no readable checkpoint in {self.directory} (saved: {steps})")

    def _load(self, step: int, target: RunnerState) -> Checkpoint:
        import orbax.checkpoint as ocp

        items = {"state": ocp.args.StandardRestore(target), "meta": ocp.args.JsonRestore()}
        if self.read_meta(step).get("has_extra"):
            items["extra"] = ocp.args.StandardRestore()
        restored = self._manager.restore(step, args=ocp.args.Composite(**items))
        state, meta = restored.state, dict(restored.meta)
        extra = restored.extra if "extra" in items else None
        if meta.get("digest") != state_digest(state if extra is None else (state, extra)):
            raise ValueError("its contents do not match the digest saved with it")
        path = self.directory / str(step)
        return Checkpoint(step=step, state=state, meta=meta, path=path, extra=extra)

    def restore(
        self,
        config: PPOConfig,
        num_seeds: int,
        step: int | None = None,
        warn: Callable[[str], None] = _warn,
    ) -> Checkpoint:
        """Restores `step`, or else the newest checkpoint that reads back intact.

        A corrupt or partial checkpoint is reported by name through `warn` and the previous one
        is tried. Raises `ConfigError` when none (or not the requested `step`) can be restored.
        """
        steps = self.steps()
        if step is not None and step not in steps:
            raise ConfigError(f"no checkpoint at update {step} in {self.directory}; saved: {steps}")
        target = abstract_state(config, num_seeds)
        for candidate in reversed([step] if step is not None else steps):
            try:
                return self._load(candidate, target)
            except Exception as error:  # noqa: BLE001 - any failure means this one is unusable
                name = self.directory / str(candidate)
                if step is not None:
                    raise ConfigError(
                        f"checkpoint {name} is unreadable ({_short(error)})"
                    ) from None
                warn(
                    f"checkpoint {name} is corrupt or partial ({_short(error)}); using the previous one"
                )
        raise ConfigError(f"no valid checkpoint in {self.directory} (found steps {steps})")

    def discard_after(self, step: int) -> list[Path]:
        """Moves the saved steps newer than `step` (unusable ones, when resuming from `step`)
        aside to `corrupt-<step>-<time>` so the resumed run can save those steps again."""
        moved = []
        for newer in [s for s in self.steps() if s > step]:
            source = self.directory / str(newer)
            target = self.directory / f"corrupt-{newer}-{time.strftime('%Y%m%d-%H%M%S')}"
            source.rename(target)
            moved.append(target)
        self._manager.reload()
        return moved

    def close(self) -> None:
        """Waits for any save in flight and releases orbax's resources."""
        self._manager.close()


class Checkpointer:
    """Driver callback: saves the batched state every `every` updates and at the last one."""

    def __init__(self, store: CheckpointStore, every: int, num_updates: int, meta: dict):
        self.store, self.every, self.num_updates, self.meta = store, every, num_updates, meta

    def on_chunk(self, metrics: dict[str, np.ndarray], runner_state: RunnerState) -> None:
        """Saves `runner_state` if its update counter is a multiple of `every` or the last."""
        update = int(to_host(runner_state.update).reshape(-1)[0])
        if update % self.every == 0 or update == self.num_updates:
            self.store.save(runner_state, self.meta)
