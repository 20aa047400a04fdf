"""`purejaxppo search --strategy pbt|halving|optuna` and its short form `purejaxppo pbt`: adaptive
hyperparameter search on the run axis, one compiled program per search."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from purejaxppo.cli.common import (
    EXIT_INTERRUPTED,
    check_new_out_dir,
    check_writable_dir,
    default_out,
    with_imports,
)

ORDER = 2
STRATEGIES = ("pbt", "halving", "optuna")
SEARCH_FILE = "search.yaml"


def _add_options(p: argparse.ArgumentParser, strategy_flag: bool) -> None:
    if strategy_flag:
        p.add_argument("--strategy", choices=STRATEGIES, default=None,
                       help="the search strategy (required unless --resume)")  # fmt: skip
    p.add_argument(
        "--config", default="cartpole", help="base config name or YAML (default cartpole)"
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="static override of the base config (repeatable)")  # fmt: skip
    p.add_argument("--random", action="append", default=[], metavar="KEY=DIST",
                   help="searched hyperparameter (repeatable): loguniform:A:B, uniform:A:B, "
                   "choice:V1,V2")  # fmt: skip
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="searched hyperparameter with listed values (repeatable)")  # fmt: skip
    p.add_argument("--population", type=int, default=8, help="pbt: members (default 8)")
    p.add_argument("--ready-every", type=int, default=None,
                   help="pbt: updates between exploit steps (default 10); halving: updates per "
                   "rung (default: equal rungs down to one setting, then one more)")  # fmt: skip
    p.add_argument("--quantile", type=float, default=0.25, help="pbt: bottom/top share (0.25)")
    p.add_argument("--resample-probability", type=float, default=0.25,
                   help="pbt: chance a copied value is drawn afresh (0.25)")  # fmt: skip
    p.add_argument("--window", type=int, default=None,
                   help="pbt, halving: updates whose returns score a member (default --ready-every)")  # fmt: skip
    p.add_argument("--samples", type=int, default=None,
                   help="halving: settings drawn from the --random fields (grid points x samples)")  # fmt: skip
    p.add_argument("--eta", type=int, default=2, help="halving: keep the top 1/eta per rung (2)")
    p.add_argument("--batch-size", type=int, default=8, help="optuna: trials per batch (8)")
    p.add_argument("--rounds", type=int, default=4, help="optuna: batches in total (4)")
    p.add_argument("--seed", type=int, default=0, help="member i trains from seed + i")
    p.add_argument("--search-seed", type=int, default=0,
                   help="seed of the initial draws and of PBT's steps / Optuna's sampler")  # fmt: skip
    p.add_argument("--checkpoint-every", type=int, default=5,
                   help="pbt, halving: intervals between checkpoints (5; and after the last)")  # fmt: skip
    p.add_argument("--out", default=None, help="output folder (default searches/<config>-<time>)")
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the search in DIR from its newest checkpoint (optuna: its study)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run, strategy_fixed=None if strategy_flag else "pbt")


def add_parser(subparsers) -> None:
    """Registers `search` and `pbt` (= `search --strategy pbt`)."""
    search = subparsers.add_parser(
        "search", help="adaptive search: pbt, successive halving, optuna"
    )
    _add_options(search, strategy_flag=True)
    pbt = subparsers.add_parser("pbt", help="population-based training (search --strategy pbt)")
    _add_options(pbt, strategy_flag=False)
    pbt.add_argument("--replay", default=None, metavar="FILE",
                     help="train one run along a best_schedule.yaml that pbt wrote")  # fmt: skip


def _space(args: argparse.Namespace) -> dict[str, Any]:
    from purejaxppo.cli.sweep_file import build_space

    for_space = argparse.Namespace(grid=args.grid, random=args.random, list=[], samples=None)
    space, _ = build_space(for_space, {})
    return space


def _inputs(args: argparse.Namespace) -> tuple[Any, dict[str, Any], Path, dict[str, Any]]:
    """(config, space, out folder, search.yaml data): from the flags, or from DIR's files."""
    import yaml

    from purejaxppo.config import ConfigError
    from purejaxppo.loading import config_from_dict, config_to_dict, load_config

    if args.resume:
        out = Path(args.resume)
        try:
            data = yaml.safe_load((out / SEARCH_FILE).read_text())
        except OSError:
            raise ConfigError(
                f"--resume {out}: no {SEARCH_FILE} there; is it a search folder?"
            ) from None
        config = config_from_dict(data["config"], source=str(out / SEARCH_FILE))
        ns = argparse.Namespace(**{**vars(args), **data["flags"]})
        return config, _space(ns), out, {**data, "args": ns}
    from purejaxppo.cli.search_runs import validate

    config = with_imports(load_config(args.config, args.set), args.imports)
    space = _space(args)
    validate(args, config, space)  # before the folder exists: bad input writes nothing
    out = Path(args.out) if args.out else default_out(str(args.config), "searches")
    check_new_out_dir(out)
    check_writable_dir(out, "--out")
    keys = ("strategy", "grid", "random", "population", "ready_every", "quantile")
    keys += ("resample_probability", "window", "samples", "eta", "batch_size", "rounds", "seed")
    keys += ("search_seed", "checkpoint_every")
    flags = {k: getattr(args, k) for k in keys}
    data = {"config": config_to_dict(config), "flags": flags}
    return config, space, out, {**data, "args": args}


def run(args: argparse.Namespace) -> int:
    """Runs the search (metrics and lineage streamed into the output folder), then writes its
    plots and best configs and prints the summary. Returns the exit code."""
    import yaml

    from purejaxppo.config import ConfigError
    from purejaxppo.io.files import atomic_write_text, write_config_yaml
    from purejaxppo.loading import config_to_dict
    from purejaxppo.watchdog import stop_on_signals

    args.strategy = args.strategy_fixed or args.strategy
    if args.strategy is None and not args.resume:
        raise ConfigError(f"search needs --strategy ({', '.join(STRATEGIES)}) or --resume DIR")
    if getattr(args, "replay", None):
        return _replay(args)
    config, space, out, data = _inputs(args)
    args = data.pop("args")
    if not args.resume:
        out.mkdir(parents=True, exist_ok=True)
        write_config_yaml(out / "config.yaml", config_to_dict(config))
        atomic_write_text(out / SEARCH_FILE, yaml.safe_dump(data, sort_keys=False))
    if args.strategy == "optuna":  # Ctrl-C stops at once; the study keeps every told trial
        from purejaxppo.cli.search_runs import run_optuna

        return 0 if run_optuna(args, config, space, out) else EXIT_INTERRUPTED
    from purejaxppo.cli.search_runs import run_population

    stop = threading.Event()
    with stop_on_signals(stop) as received:
        completed = run_population(args, config, space, out, stop)
    if not completed:
        print(f"stopped; resume with: purejaxppo search --resume {out}", file=sys.stderr)
        return 128 + received[0] if received else EXIT_INTERRUPTED
    return 0


def _replay(args: argparse.Namespace) -> int:
    from purejaxppo.cli.search_runs import replay

    return replay(args)
