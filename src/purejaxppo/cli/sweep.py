"""`purejaxppo sweep`: train a grid, random or listed set of settings x seeds, rank, plot."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from purejaxppo.cli import train_logging
from purejaxppo.cli.common import (
    add_distributed_arguments,
    check_new_out_dir,
    check_writable_dir,
    checked_together,
    default_out,
    not_primary_line,
    phase,
    seeds_word,
    with_imports,
)
from purejaxppo.cli.sweep_file import build_space, options, read_sweep_file

ORDER = 1


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
    p.add_argument("--save-params", action="store_true", default=None, help="keep every "
                   "setting's final params: a run folder SWEEP_DIR/runs/<K>/ each, for eval, "
                   "render and load_policy (--run K)")  # fmt: skip
    p.add_argument("--top", type=int, default=5, help="settings drawn in learning_curves.png")
    p.add_argument("--out", default=None, help="sweep folder (default sweeps/<config>-<time>)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    train_logging.add_arguments(p)
    add_distributed_arguments(p)
    p.set_defaults(func=run)


class _Progress:
    """Sweep callbacks: a line per compiled program, a ticking status per compile, then one bar
    over the updates of every call (percentage, ETA, env steps/s, mean return)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self._phase = contextlib.ExitStack()
        self._group = (0, 1)

    def on_group_start(
        self, index: int, num_groups: int, group: Any, num_runs: int, runs_per_call: int
    ) -> None:
        if self.enabled:
            static = ", ".join(f"{k}={v}" for k, v in group.static.items()) or "base config"
            print(
                f"program {index + 1}/{num_groups} ({static}): {num_runs} runs, "
                f"{min(num_runs, runs_per_call)} per call",
                file=sys.stderr,
            )

    def on_compile_start(self, runs_per_call: int) -> None:
        self._phase.close()
        self._phase.enter_context(phase("compiling", enabled=self.enabled))

    def on_compile_end(self, seconds: float) -> None:
        self._phase.close()

    def on_train_start(self, total_updates: int) -> None:
        from purejaxppo.io.progress import ProgressBar

        self.bar = ProgressBar(enabled=self.enabled, total=total_updates)

    def on_group_train(self, index: int, num_groups: int) -> None:
        self._group = (index, num_groups)

    def on_call_start(self, index: int, num_calls: int, runs: slice) -> None:
        (g, num_groups), parts = self._group, []
        if num_groups > 1:
            parts.append(f"program {g + 1}/{num_groups}")
        if num_calls > 1:
            parts.append(f"call {index + 1}/{num_calls}")
        self.bar.describe("training" + (f" ({', '.join(parts)})" if parts else ""))

    def on_start(self, config: Any, seeds: Any, start_update: int) -> None:
        self.bar.on_start(config, seeds, start_update)

    def on_chunk(self, metrics: dict, runner_state: Any) -> None:
        self.bar.on_chunk(metrics, runner_state)

    def close(self) -> None:
        self._phase.close()
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    """Validates everything, runs the sweep (metrics streamed to the --log writers), then writes
    results.csv, best.yaml, sweep.yaml, the plots and with --save-params runs/<K>/ into the sweep
    folder and prints the ranked table. Returns the exit code."""
    from purejaxppo import distributed
    from purejaxppo.io.sweep_plots import write_sweep_plots
    from purejaxppo.loading import config_from_dict, config_to_dict, load_config, parse_overrides
    from purejaxppo.sweep import expand_space, plan_groups, sweep
    from purejaxppo.sweep_output import (
        RUNS_DIR,
        retrain_command,
        write_best_yaml,
        write_member_runs,
        write_sweep_yaml,
    )

    file = read_sweep_file(args.sweep) if args.sweep else {}
    name = args.config or file.get("config") or "cartpole"
    sets = {**parse_overrides(file.get("set")), **parse_overrides(args.set)}
    if isinstance(name, dict):
        config = config_from_dict({**name, **sets}, source=str(args.sweep))
    else:
        config = load_config(name, sets)
    config = with_imports(config, args.imports)
    space, samples = build_space(args, file)
    opt = options(args, file)
    settings = expand_space(space, samples, opt["sweep_seed"])
    configs, groups = plan_groups(config, settings, opt["seeds"], opt["max_parallel"])
    train_logging.check_arguments(args)
    out = Path(args.out) if args.out else default_out(str(name), "sweeps")
    primary = distributed.is_primary()

    def check() -> None:
        distributed.agree((config_to_dict(config), settings, opt), "config, space or seeds")
        if primary:
            check_new_out_dir(out)
            check_writable_dir(out, "--out")

    checked_together(check)
    if not primary:
        return _follow(config, settings, opt, args, out)
    print(
        f"sweep {config.env_id}: {len(settings)} setting(s) x {seeds_word(opt['seeds'])} = "
        f"{len(settings) * opt['seeds']} run(s) in {len(groups)} compiled program(s) "
        f"(one per static config) -> {out}",
        file=sys.stderr,
    )
    progress = _Progress(not args.quiet)
    try:
        result = sweep(
            config,
            settings,
            opt["seeds"],
            opt["seed"],
            opt["max_parallel"],
            callbacks=[progress],
            setting_callbacks=lambda k: train_logging.make_callbacks(args, out, configs[k], k),
            keep_states=opt["save_params"],
            layout=opt["layout"],
        )
    finally:
        progress.close()
    result.to_csv(out / "results.csv")
    write_best_yaml(out, result)
    write_sweep_yaml(out, result, opt["save_params"])
    if opt["save_params"]:
        write_member_runs(out, result)
    write_sweep_plots(result, out, top=args.top)
    print(result.table(top=20))
    print(
        f"{result.num_programs} compiled program(s), compile {result.compile_seconds:.1f} s, "
        f"run {result.run_seconds:.1f} s, {result.env_steps_per_second:,.0f} env steps/s"
    )
    if opt["save_params"]:
        print(f"params of every setting: {out / RUNS_DIR}/<K> (eval/render {out} --run K)")
    print(
        f"sweep folder: {out}; train the best with the sweep's seeds: {retrain_command(out, result)}"
    )
    return 0


def _follow(config: Any, settings: list, opt: dict[str, Any], args: argparse.Namespace, out) -> int:
    """A process other than 0 of a distributed sweep: trains its share of every call, writes
    nothing, prints one line."""
    from purejaxppo.sweep import sweep

    not_primary_line("sweep folder", out)
    sweep(config, settings, opt["seeds"], opt["seed"], opt["max_parallel"],
          keep_states=opt["save_params"], layout=opt["layout"])  # fmt: skip
    return 0
