"""Imports of user modules named in a config (`imports:`, `network:`) or with `--import`."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from types import ModuleType

from purejaxppo.config import ConfigError


def _search_current_folder() -> None:
    """Lets `--import my_env` find `./my_env.py`, as `python -c` would (console scripts don't)."""
    here = os.getcwd()
    if "" not in sys.path and here not in sys.path:
        sys.path.append(here)


def import_module(name: str, what: str = "--import") -> ModuleType:
    """Imports module `name` (the current folder is searched too) and returns it.

    Raises:
        ConfigError: one line: the module is not found, or importing it raised (its error).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{what}: a module name must be a non-empty string, got {name!r}")
    _search_current_folder()
    try:
        return importlib.import_module(name.strip())
    except ModuleNotFoundError as error:
        if error.name and name.strip().split(".")[0] == error.name.split(".")[0]:
            raise ConfigError(
                f"{what}: no module named {name!r} on the Python path (the current folder "
                f"{os.getcwd()} is searched too); check the spelling or set PYTHONPATH"
            ) from None
        raise ConfigError(f"{what}: importing {name!r} failed: {error}") from None
    except Exception as error:  # noqa: BLE001 - the user's module; reported in one line
        first = (str(error).strip().splitlines() or [""])[0]
        raise ConfigError(
            f"{what}: importing {name!r} failed: {type(error).__name__}: {first}"
        ) from None


def run_imports(names: Iterable[str], what: str = "imports") -> None:
    """Imports each module of `names` in order (each once; later imports are no-ops)."""
    for name in names:
        import_module(name, what)
