"""The logging options of `purejaxppo train`: which writers receive the per-update metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from purejaxppo.config import PPOConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the logging options to the `train` parser."""


def check_arguments(args: argparse.Namespace) -> None:
    """Raises `ConfigError` for bad logging options, before anything is written."""


def make_callbacks(args: argparse.Namespace, out: Path, config: PPOConfig) -> list:
    """Driver callbacks that write the metrics stream into the run folder `out`."""
    from purejaxppo.io.files import METRICS_FILE
    from purejaxppo.io.writers import CsvWriter

    return [CsvWriter(out / METRICS_FILE)]
