"""The inputs of `purejaxppo sweep`: a YAML sweep file and the --grid/--random/--list flags,
read into a search space and the run options."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

import yaml

FILE_KEYS = ("config", "set", "grid", "random", "samples", "sweep_seed", "list", "seeds", "seed")
FILE_KEYS += ("max_parallel", "save_params", "layout")


def read_sweep_file(path: str) -> dict[str, Any]:
    """Reads a YAML sweep file; an unknown top-level key is one `ConfigError` with a hint."""
    from purejaxppo.config import ConfigError
    from purejaxppo.loading import KNOWN_KEYS, did_you_mean, read_yaml_mapping, suggest_key

    data = read_yaml_mapping(Path(path))
    for key in data:
        if key not in FILE_KEYS:
            hint = did_you_mean(key, FILE_KEYS)
            if not hint and suggest_key(key) is not None:
                name = key if key in KNOWN_KEYS else suggest_key(key)
                hint = f"; config keys go under set: (static) or grid:, e.g. set: {{{name}: ...}}"
            raise ConfigError(f"unknown key {key!r} in sweep file {path}{hint}")
    return data


def _pair(item: str, flag: str) -> tuple[str, str]:
    from purejaxppo.config import ConfigError

    key, sep, raw = item.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise ConfigError(f"{flag} {item!r} must look like key=value")
    return key.strip(), raw.strip()


def parse_grid(raw: str) -> list[Any]:
    """`"1e-4,3e-4"` -> [1e-4, 3e-4]; lists stay whole: `"[64,64],[32,32]"` -> two values."""
    from purejaxppo.config import ConfigError

    try:
        values = yaml.safe_load(f"[{raw}]")
    except yaml.YAMLError:
        raise ConfigError(f"cannot read grid values {raw!r}; write them as v1,v2,...") from None
    return [_number(v) for v in values]


def _number(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)  # YAML 1.1 reads 1e-4 as a string
    return value


def parse_distribution(name: str, spec: Any):
    """`"loguniform:1e-4:1e-2"`, `"uniform:0.1:0.3"` or `"choice:0,0.01"` -> a distribution."""
    from purejaxppo.config import ConfigError
    from purejaxppo.sweep import Choice, LogUniform, Uniform

    kind, _, rest = str(spec).partition(":")
    kinds = {"uniform": Uniform, "loguniform": LogUniform}
    try:
        if kind.lower() == "choice":
            return Choice(tuple(float(v) for v in rest.split(",")))
        low, high = rest.split(":")
        return kinds[kind.lower()](float(low), float(high))
    except (KeyError, ValueError):
        raise ConfigError(
            f"random spec {name}={spec!r} must be loguniform:LOW:HIGH, uniform:LOW:HIGH or "
            "choice:V1,V2,..."
        ) from None


def build_space(args: argparse.Namespace, file: dict[str, Any]) -> tuple[Any, int | None]:
    """The search space and `num_samples` from the sweep file, overridden by the flags."""
    from purejaxppo.config import ConfigError
    from purejaxppo.loading import parse_overrides

    grid = dict(file.get("grid") or {})
    grid.update({k: parse_grid(v) for k, v in (_pair(g, "--grid") for g in args.grid)})
    random = dict(file.get("random") or {})
    random.update(dict(_pair(r, "--random") for r in args.random))
    listed = list(file.get("list") or [])
    listed += [parse_overrides(item.split()) for item in args.list]
    samples = args.samples if args.samples is not None else file.get("samples")
    if listed and (grid or random):
        raise ConfigError("give either a list of settings or a grid/random space, not both")
    if not (listed or grid or random):
        raise ConfigError("nothing to sweep: give --grid, --random, --list or --sweep FILE")
    if listed:
        return listed, samples
    grid = {k: v if isinstance(v, list) else [v] for k, v in grid.items()}
    return {**grid, **{k: parse_distribution(k, v) for k, v in random.items()}}, samples


def options(args: argparse.Namespace, file: dict[str, Any]) -> dict[str, Any]:
    """seeds, seed, max_parallel, sweep_seed, save_params and layout: flag, else file, else
    default (a layout only without --max-parallel)."""
    from purejaxppo.config import ConfigError

    pick = lambda flag, key, default: flag if flag is not None else file.get(key, default)  # noqa: E731
    options = {
        "seeds": pick(args.seeds, "seeds", 1),
        "seed": pick(args.seed, "seed", 0),
        "max_parallel": pick(args.max_parallel, "max_parallel", None),
        "sweep_seed": pick(args.sweep_seed, "sweep_seed", 0),
        "save_params": pick(args.save_params, "save_params", False),
        "layout": file.get("layout") if args.max_parallel is None else None,
    }
    seeds = options["seeds"]
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {seeds!r}")
    if not isinstance(options["save_params"], bool):
        raise ConfigError(f"save_params must be true or false, got {options['save_params']!r}")
    return options
