"""`purejaxppo sweep`: train a grid, random or listed set of settings x seeds, rank, plot."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import sys
from pathlib import Path
from typing import Any

import yaml

from purejaxppo.cli.common import check_new_out_dir, check_writable_dir, default_out, phase

ORDER = 1
FILE_KEYS = ("config", "set", "grid", "random", "samples", "sweep_seed", "list", "seeds", "seed")
FILE_KEYS += ("max_parallel",)


def add_parser(subparsers) -> None:
    """Registers `sweep` and its options."""
    p = subparsers.add_parser("sweep", help="sweep hyperparameters x seeds in one program")
    p.add_argument("--config", default=None, help="base config name or YAML (default cartpole)")

    def add(flag: str, meta: str, text: str) -> None:
        p.add_argument(flag, action="append", default=[], metavar=meta, help=text)

    add("--grid", "KEY=V1,V2", "grid axis (repeatable), e.g. --grid lr=1e-4,3e-4,1e-3")
    add(
        "--random",
        "KEY=DIST",
        "random field (repeatable): loguniform:A:B, uniform:A:B, choice:V1,V2",
    )
    add(
        "--list", "'K=V K=V'", "one explicit setting (repeatable), e.g. --list 'lr=1e-3 ent_coef=0'"
    )
    add("--set", "KEY=VALUE", "static override of the base config (repeatable)")
    p.add_argument(
        "--sweep", default=None, metavar="FILE", help="YAML sweep file (see docs/sweeps.md)"
    )
    p.add_argument("--samples", type=int, default=None, help="draws of the --random fields")
    p.add_argument("--sweep-seed", type=int, default=None, help="seed of the random draws (0)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per setting (default 1)")
    p.add_argument("--seed", type=int, default=None, help="first seed; seed k uses seed + k")
    p.add_argument("--max-parallel", type=int, default=None, help="runs per call (memory bound)")
    p.add_argument("--top", type=int, default=5, help="settings drawn in learning_curves.png")
    p.add_argument("--out", default=None, help="sweep folder (default sweeps/<config>-<time>)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def _read_file(path: str) -> dict[str, Any]:
    from purejaxppo.config import ConfigError
    from purejaxppo.loading import read_yaml_mapping

    data = read_yaml_mapping(Path(path))
    for key in data:
        if key not in FILE_KEYS:
            close = difflib.get_close_matches(str(key), FILE_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
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


class _Progress:
    """Sweep callbacks: a line per compiled program and a ticking status per compile and call."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._phase = contextlib.ExitStack()

    def _enter(self, label: str) -> None:
        self._phase.close()
        self._phase.enter_context(phase(label, enabled=self.enabled))

    def on_group_start(self, index: int, num_groups: int, group: Any, num_runs: int) -> None:
        if self.enabled:
            static = ", ".join(f"{k}={v}" for k, v in group.static.items()) or "base config"
            print(
                f"program {index + 1}/{num_groups} ({static}): {num_runs} runs, "
                f"{min(num_runs, group.max_parallel)} per call",
                file=sys.stderr,
            )

    def on_compile_start(self, runs_per_call: int) -> None:
        self._enter("compiling")

    def on_compile_end(self, seconds: float) -> None:
        self._phase.close()

    def on_chunk_start(self, index: int, num_chunks: int) -> None:
        self._enter(f"training: call {index + 1}/{num_chunks}")

    def on_chunk_end(self, done: int, total: int, seconds: float) -> None:
        self._phase.close()


def run(args: argparse.Namespace) -> int:
    """Validates everything, runs the sweep, then writes results.csv, best.yaml, sweep.yaml and the
    plots into the sweep folder and prints the ranked table. Returns the exit code."""
    from purejaxppo.config import ConfigError
    from purejaxppo.io.files import write_config_yaml
    from purejaxppo.io.sweep_plots import write_sweep_plots
    from purejaxppo.loading import config_from_dict, config_to_dict, load_config, parse_overrides
    from purejaxppo.sweep import expand_space, plan_groups, sweep

    file = _read_file(args.sweep) if args.sweep else {}
    name = args.config or file.get("config") or "cartpole"
    sets = {**parse_overrides(file.get("set")), **parse_overrides(args.set)}
    if isinstance(name, dict):
        config = config_from_dict({**name, **sets}, source=str(args.sweep))
    else:
        config = load_config(name, sets)
    space, samples = build_space(args, file)
    pick = lambda flag, key, default: flag if flag is not None else file.get(key, default)  # noqa: E731
    seeds, seed = pick(args.seeds, "seeds", 1), pick(args.seed, "seed", 0)
    max_parallel, sweep_seed = (
        pick(args.max_parallel, "max_parallel", None),
        pick(args.sweep_seed, "sweep_seed", 0),
    )
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {seeds!r}")
    settings = expand_space(space, samples, sweep_seed)
    _, groups = plan_groups(config, settings, seeds, max_parallel)
    out = Path(args.out) if args.out else default_out(str(name), "sweeps")
    check_new_out_dir(out)
    check_writable_dir(out, "--out")
    print(
        f"sweep {config.env_id}: {len(settings)} settings x {seeds} seeds = "
        f"{len(settings) * seeds} runs in {len(groups)} compiled program(s) "
        f"(one per static config) -> {out}",
        file=sys.stderr,
    )
    result = sweep(
        config, settings, seeds, seed, max_parallel, callbacks=[_Progress(not args.quiet)]
    )
    result.to_csv(out / "results.csv")
    _, best = result.best()
    write_config_yaml(out / "best.yaml", config_to_dict(best))
    plain = [{k: list(v) if isinstance(v, tuple) else v for k, v in s.items()} for s in settings]
    write_config_yaml(
        out / "sweep.yaml",
        {"config": config_to_dict(config), "list": plain, "seeds": seeds, "seed": seed},
    )
    write_sweep_plots(result, out, top=args.top)
    print(result.table(top=20))
    print(
        f"{result.num_programs} compiled program(s), compile {result.compile_seconds:.1f} s, "
        f"run {result.run_seconds:.1f} s, {result.env_steps_per_second:,.0f} env steps/s"
    )
    print(
        f"sweep folder: {out}; train the best with: purejaxppo train --config {out / 'best.yaml'}"
    )
    return 0
