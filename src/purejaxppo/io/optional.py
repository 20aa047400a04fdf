"""Optional extras (tensorboardX, wandb): imported on demand, or reported in one line that names
the command installing them."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from purejaxppo.config import ConfigError


def _missing(module: str, option: str, hint: str) -> ConfigError:
    return ConfigError(f"{option} needs {module}: {hint}")


def check_installed(module: str, option: str, hint: str) -> None:
    """Raises `ConfigError` naming `option` and the install `hint` if `module` is not installed
    (without importing it)."""
    if importlib.util.find_spec(module) is None:
        raise _missing(module, option, hint)


def require(module: str, option: str, hint: str) -> ModuleType:
    """Imports `module`.

    Returns:
        The imported module.

    Raises:
        ConfigError: it is not installed, naming `option` and the install `hint`.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise _missing(module, option, hint) from error
