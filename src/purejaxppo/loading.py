"""Builds `PPOConfig` from YAML files, shipped config names and `key=value` overrides."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from purejaxppo.config import ENV_FIELDS, HPARAM_FIELDS, ConfigError, ConfigTypeError, PPOConfig
from purejaxppo.config_keys import _CONFIG_FIELDS, KNOWN_KEYS, did_you_mean
from purejaxppo.config_keys import suggest_key as suggest_key  # re-exported

_INT_FIELDS = {"num_envs", "num_steps", "total_timesteps", "update_epochs", "num_minibatches"}
_INT_FIELDS |= {"eval_every", "eval_episodes", "eval_max_steps", "recurrent_size"}
_BOOL_FIELDS = {"shared_network", "anneal_lr", "clip_value_loss", "normalize_advantages"}
_BOOL_FIELDS |= {"normalize_observations", "normalize_rewards", "bootstrap_truncated"}
_BOOL_FIELDS |= {"eval_deterministic"}
_OPTIONAL_FIELDS = {"reference_return", "log_std_init"}
_FLOAT_FIELDS = {"obs_clip", "reward_clip", *_OPTIONAL_FIELDS, *HPARAM_FIELDS}
_STR_FIELDS = {"env_id", "activation", "recurrent", "encoder"}
_INT_LIST_FIELDS = {
    "hidden_sizes": "a list of integers, e.g. [64, 64]",
    "obs_mask": "a list of observation indices, e.g. [1, 3]",
    "cnn_channels": "a list of integers, one per conv layer, e.g. [16, 32]",
    "cnn_kernel_sizes": "a list of integers, one per conv layer, e.g. [3, 3]",
    "cnn_strides": "a list of integers, one per conv layer, e.g. [1, 2]",
}
_MAPPING_FIELDS = {
    "env_kwargs": "a mapping of the environment constructor's keyword arguments",
    "env_params": "a mapping of env params fields, e.g. {max_steps_in_episode: 200}",
    "network_kwargs": "a mapping of keyword arguments for the network's class or factory",
}
PYTHON_NETWORK = "python:"  # config.yaml's marker for a network object that cannot be imported


def config_dirs() -> list[Path]:
    """Folders searched for named configs: the installed package's copy, then the repository's."""
    here = Path(__file__).resolve().parent
    return [d for d in (here / "configs", here.parents[1] / "configs") if d.is_dir()]


def available_configs() -> list[str]:
    """Names of the shipped configs (file stems in `configs/`), sorted; `defaults` excluded."""
    names = {p.stem for d in config_dirs() for p in d.glob("*.yaml")}
    return sorted(names - {"defaults"})


def _resolve(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    for folder in config_dirs():
        named = folder / f"{name_or_path}.yaml"
        if named.is_file():
            return named
    names = available_configs()
    close = difflib.get_close_matches(str(name_or_path), names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(
        f"config {str(name_or_path)!r} not found: it is neither a file nor a shipped config "
        f"({', '.join(names)}){hint}"
    )


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Reads a YAML file whose top level is a mapping; returns {} for an empty file."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "could not be parsed"
        raise ConfigError(f"invalid YAML in {path}{where}: {problem}") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a UTF-8 text file; a config must be YAML") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path} must hold a mapping of key: value, got {type(data).__name__}")
    return dict(data)


def parse_overrides(overrides: Mapping[str, Any] | Iterable[str] | None) -> dict[str, Any]:
    """Turns a dict, or a list of "key=value" strings (values read as YAML), into a new dict."""
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return dict(overrides)
    if isinstance(overrides, str):
        overrides = [overrides]
    parsed: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like key=value, e.g. lr=3e-4")
        try:
            parsed[key.strip()] = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            parsed[key.strip()] = raw
    return parsed


def _check_keys(values: Mapping[str, Any], source: str) -> None:
    for key in values:
        if key not in KNOWN_KEYS:
            raise ConfigError(f"unknown config key {key!r} in {source}{did_you_mean(key)}")


def _coerce(key: str, value: Any) -> Any:
    def fail(kind: str) -> ConfigTypeError:
        return ConfigTypeError(f"{key} must be {kind}, got {value!r} ({type(value).__name__})")

    if key in _BOOL_FIELDS:
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if key in _INT_FIELDS:
        number = _as_number(value)
        if number is None or not math.isfinite(number) or number != int(number):
            raise fail("an integer")
        return int(number)
    if key in _FLOAT_FIELDS:
        if value is None and key in _OPTIONAL_FIELDS:
            return None
        number = _as_number(value)
        if number is None:
            raise fail("a number")
        return float(number)
    if key in _STR_FIELDS:
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if key in _INT_LIST_FIELDS:
        items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(items, list | tuple) or any(
            isinstance(i, bool) or not isinstance(i, int) for i in items
        ):
            raise fail(_INT_LIST_FIELDS[key])
        return tuple(items)
    if key in _MAPPING_FIELDS:
        if not isinstance(value, Mapping):
            raise fail(_MAPPING_FIELDS[key])
        return dict(value)
    if key == "imports":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(m, str) for m in items):
            raise fail("a list of module names")
        return tuple(items)
    if key == "network":
        if value is None:
            return None
        if not isinstance(value, str):
            raise fail("'package.module:attribute' (or null for the built-in MLP)")
        if value.startswith(PYTHON_NETWORK):
            raise ConfigError(
                f"this config's network ({value[len(PYTHON_NETWORK) :]}) was given as a Python "
                "object, not an import path; pass it again (e.g. load_policy(run, network=...)) "
                "or set network: package.module:attribute"
            )
        return value
    raise AssertionError(f"no coercion rule for {key}")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads "5e5" as a string
        except ValueError:
            return None
    return None


def config_from_dict(values: Mapping[str, Any], source: str = "config") -> PPOConfig:
    """Builds a `PPOConfig` from flat keys (config fields and hyperparameter names alike).

    Raises:
        ConfigError: an unknown key (with the closest known one), a value out of range, or sizes
            that do not fit together. `ConfigTypeError` (also a TypeError) for a wrong type.
    """
    _check_keys(values, source)
    coerced = {key: _coerce(key, value) for key, value in values.items()}
    return PPOConfig().replace(**coerced)


def load_config(
    name_or_path: str | Path = "cartpole",
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
) -> PPOConfig:
    """Loads a shipped config by name (e.g. "cartpole") or a YAML file, then applies overrides.

    Args:
        name_or_path: a name from `available_configs()` or a path to a YAML file of flat keys.
        overrides: a dict, or a list of "key=value" strings; neither is modified.

    Returns:
        The validated, frozen `PPOConfig`; fields absent from the file keep `PPOConfig` defaults.
    """
    path = _resolve(name_or_path)
    values = read_yaml_mapping(path)
    _check_keys(values, str(path))
    extra = parse_overrides(overrides)
    _check_keys(extra, "overrides")
    changes_env = any(k in extra and extra[k] != values.get(k) for k in ENV_FIELDS)
    if changes_env and "reference_return" not in extra:
        values.pop("reference_return", None)  # it was measured on the file's environment
    return config_from_dict({**values, **extra}, source=str(path))


def config_to_dict(config: PPOConfig) -> dict[str, Any]:
    """Flat, YAML-ready dict of every field; `config_from_dict` of it gives `config` back."""
    from purejaxppo.networks.contract import network_name, network_reference

    out: dict[str, Any] = {}
    for name in _CONFIG_FIELDS:
        value = getattr(config, name)
        if name in _MAPPING_FIELDS:
            value = _thawed(value)
        elif name in ("imports", *_INT_LIST_FIELDS):
            value = list(value)
        elif name == "network" and value is not None:
            value = network_reference(value) or f"{PYTHON_NETWORK}{network_name(value)}"
        out[name] = value
    for name in HPARAM_FIELDS:
        out[name] = float(getattr(config.hparams, name))
    return out


def _thawed(items: Any) -> Any:
    """Frozen `(key, value)` pairs back to a YAML-ready dict (tuples back to lists)."""
    pairs = isinstance(items, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in items)
    if pairs and all(isinstance(k, str) for k, _ in items):
        return {k: _thawed_value(v) for k, v in items}
    return _thawed_value(items)


def _thawed_value(value: Any) -> Any:
    return [_thawed_value(v) for v in value] if isinstance(value, tuple) else value
