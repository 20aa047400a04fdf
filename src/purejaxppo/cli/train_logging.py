"""The logging options of `purejaxppo train` and `sweep`: which writers get the metrics."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from purejaxppo.config import ConfigError, PPOConfig

WRITERS = ("csv", "jsonl", "tensorboard", "wandb")
TB_FOLDER = "tb"  # <run>/tb/seed_<s>: `tensorboard --logdir <run>/tb` shows one curve per seed
# (a sweep's: <sweep>/tb/setting_<k>/seed_<s>)
JSONL_FILE = "metrics.jsonl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds `--log` and the W&B options to the `train` or `sweep` parser."""
    parser.add_argument(
        "--log",
        default="csv",
        metavar="WRITERS",
        help=f"comma-separated metric writers, from {','.join(WRITERS)} (default csv); "
        "tensorboard and wandb need their extras",
    )
    parser.add_argument(
        "--wandb-project", default=None, help="W&B project (default $WANDB_PROJECT or purejaxppo)"
    )
    parser.add_argument("--wandb-entity", default=None, help="W&B entity (team or user)")


def parse_writers(text: str) -> list[str]:
    """`"csv, tensorboard"` -> `["csv", "tensorboard"]` (deduplicated, in order).

    Raises:
        ConfigError: an empty list or an unknown name (with the closest known one).
    """
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"--log needs at least one writer out of {','.join(WRITERS)}")
    for name in names:
        if name not in WRITERS:
            close = difflib.get_close_matches(name, WRITERS, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(
                f"--log: unknown writer {name!r}; {hint}choose from {','.join(WRITERS)}"
            )
    return list(dict.fromkeys(names))


def check_arguments(args: argparse.Namespace) -> None:
    """Raises `ConfigError` for bad logging options (unknown writer, missing extra) before
    anything is written."""
    names = parse_writers(args.log)
    from purejaxppo.io import tensorboard, wandb_writer
    from purejaxppo.io.optional import check_installed

    if "tensorboard" in names:
        check_installed("tensorboardX", "--log tensorboard", tensorboard.INSTALL_HINT)
    if "wandb" in names:
        check_installed("wandb", "--log wandb", wandb_writer.INSTALL_HINT)


def make_callbacks(
    args: argparse.Namespace, out: Path, config: PPOConfig, setting: int | None = None
) -> list:
    """Driver callbacks that write the metrics stream into the run folder `out`: `metrics.csv`,
    `metrics.jsonl`, `tb/seed_<s>/` event files and/or one W&B run per seed.

    With `setting` (a sweep's setting index; `out` is the sweep folder, `config` that setting's
    full config), the runs are labelled by setting and seed: a leading `setting` column or key
    in the shared `metrics.csv` / `metrics.jsonl`, `tb/setting_<k>/seed_<s>/`, and W&B runs
    `<sweep>-setting<k>-seed<s>` grouped by setting.
    """
    from purejaxppo.io.files import METRICS_FILE

    callbacks: list = []
    tb_root = out / TB_FOLDER if setting is None else out / TB_FOLDER / f"setting_{setting}"
    run_name = Path(out).name if setting is None else f"{Path(out).name}-setting{setting}"
    for name in parse_writers(args.log):
        if name == "csv":
            from purejaxppo.io.writers import CsvWriter

            callbacks.append(CsvWriter(out / METRICS_FILE, setting))
        elif name == "jsonl":
            from purejaxppo.io.writers import JsonlWriter

            callbacks.append(JsonlWriter(out / JSONL_FILE, setting))
        elif name == "tensorboard":
            from purejaxppo.io.tensorboard import TensorBoardWriter

            callbacks.append(TensorBoardWriter(tb_root))
        elif name == "wandb":
            from purejaxppo.io.wandb_writer import WandbWriter
            from purejaxppo.loading import config_to_dict

            labels = {} if setting is None else {"setting": setting}
            callbacks.append(
                WandbWriter(
                    name=run_name,
                    config_dict={**config_to_dict(config), **labels},
                    project=getattr(args, "wandb_project", None),
                    entity=getattr(args, "wandb_entity", None),
                    dir=out,
                )
            )
    return callbacks
