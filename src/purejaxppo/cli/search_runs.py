"""The work of `purejaxppo search`: a population search (PBT, halving) with its files and
checkpoints, a batched Optuna study, and the replay of a PBT schedule."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.config import PPOConfig
from purejaxppo.io.checkpoint import CHECKPOINT_DIR, CheckpointStore
from purejaxppo.io.files import METRICS_FILE, atomic_write_text, truncate_metrics, write_config_yaml
from purejaxppo.io.population_files import (
    LINEAGE_FILE,
    SCHEDULE_FILE,
    LineageWriter,
    MemberCsvWriter,
    PopulationCheckpointer,
    population_figure,
    read_schedule,
    restore_population,
    write_schedule,
)
from purejaxppo.io.progress import ProgressBar
from purejaxppo.loading import config_to_dict
from purejaxppo.sweep_space import LogUniform


def _truncate_lineage(path: Path, intervals: int) -> None:
    """Keeps the header and the rows of the first `intervals` intervals of `lineage.csv`."""
    if not path.is_file():
        return
    text = path.read_text()
    lines = text[: text.rfind("\n") + 1].splitlines(keepends=True)
    kept = lines[:1] + [ln for ln in lines[1:] if int(ln.split(",", 1)[0]) < intervals]
    atomic_write_text(path, "".join(kept))


def _pbt_options(args: argparse.Namespace):
    from purejaxppo.search.pbt import PBTOptions

    every = 10 if args.ready_every is None else args.ready_every
    return PBTOptions(every, args.quantile, (0.8, 1.2), args.resample_probability, args.window)


def validate(args: argparse.Namespace, config: PPOConfig, space: dict) -> int:
    """Raises `ConfigError` for a search that cannot run, before any file is written; returns
    the number of members (rows) of its population program."""
    from purejaxppo.config import ConfigError

    if args.strategy == "pbt":
        from purejaxppo.search.pbt import check_pbt

        check_pbt(config, space, args.population, _pbt_options(args))
        return args.population
    if args.strategy == "halving":
        from purejaxppo.search.halving import check_halving

        settings, _ = check_halving(
            config, space, args.eta, args.ready_every, args.samples, args.search_seed
        )
        return len(settings)
    from purejaxppo.search.optuna_search import optuna_distributions

    optuna_distributions(space)
    for flag, value in (("--batch-size", args.batch_size), ("--rounds", args.rounds)):
        if value < 1:
            raise ConfigError(f"{flag} must be a positive integer, got {value}")
    return args.batch_size


def run_population(
    args: argparse.Namespace, config: PPOConfig, space: dict, out: Path, stop: threading.Event
) -> bool:
    """PBT or successive halving into `out`; returns whether the search completed."""
    population = validate(args, config, space)
    store = CheckpointStore(out / CHECKPOINT_DIR, keep=3)
    resume = None
    if args.resume:
        resume = restore_population(store, config, population)
        store.discard_after(int(np.asarray(resume.runner_state.update).reshape(-1)[0]))
        truncate_metrics(out, int(np.asarray(resume.runner_state.update).reshape(-1)[0]))
        _truncate_lineage(out / LINEAGE_FILE, resume.interval)
    meta = {"strategy": args.strategy, "population": population, "config": config_to_dict(config)}
    bar = ProgressBar(enabled=not args.quiet)
    callbacks: list[Any] = [
        bar,
        MemberCsvWriter(out / METRICS_FILE),
        PopulationCheckpointer(store, args.checkpoint_every, config.num_updates, meta, stop),
    ]
    try:
        if args.strategy == "pbt":
            result = _pbt(args, config, space, callbacks, resume, stop, out)
        else:
            result = _halving(args, config, space, callbacks, resume, stop, out)
    finally:
        bar.close()
        store.close()
    return result


def _pbt(args, config, space, callbacks, resume, stop, out) -> bool:
    from purejaxppo.search.pbt import explore_spec, pbt

    options = _pbt_options(args)
    fields = [f.name for f in explore_spec(space, options).fields]
    callbacks.append(LineageWriter(out / LINEAGE_FILE, fields))
    result = pbt(
        config,
        space,
        args.population,
        **dataclasses.asdict(options),
        seed=args.seed,
        search_seed=args.search_seed,
        callbacks=callbacks,
        resume=resume,
        stop=stop,
    )
    if not result.run.completed:
        return False
    best = result.best_member
    note = (
        f"The hyperparameter schedule of member {best}, the best of a PBT population of "
        f"{args.population} (final return {result.final_returns[best]:.2f}).\n"
        f"Replay it: purejaxppo pbt --replay {out / SCHEDULE_FILE}"
    )
    write_schedule(out / SCHEDULE_FILE, config, result.schedule(), args.seed + best, note)
    logs = [n for n, d in space.items() if isinstance(d, LogUniform)]
    _figure(result.run, fields, result.ancestry(), logs, out, f"PBT, {args.population} members")
    finals = result.final_returns
    print(f"final return per member: {', '.join(f'{x:.1f}' for x in finals)}")
    print(f"best member {best}: {finals[best]:.2f}; its schedule: {out / SCHEDULE_FILE}")
    return True


def _halving(args, config, space, callbacks, resume, stop, out) -> bool:
    from purejaxppo.search.halving import successive_halving
    from purejaxppo.search.halving_ops import row_settings_from_parents

    fields = list(space)

    def setting_column(state) -> dict:  # the setting each row trained in the interval just done
        return {"setting": row_settings_from_parents(state.lineage["parent"])[-1]}

    callbacks.append(LineageWriter(out / LINEAGE_FILE, fields, extra=setting_column))
    result = successive_halving(
        config,
        space,
        eta=args.eta,
        rung_updates=args.ready_every,
        num_samples=args.samples,
        sample_seed=args.search_seed,
        seed=args.seed,
        window=args.window,
        callbacks=callbacks,
        resume=resume,
        stop=stop,
    )
    if not result.run.completed:
        return False
    best = result.best_setting
    write_config_yaml(out / "best.yaml", config_to_dict(result.best_config()))
    logs = [n for n, d in space.items() if isinstance(d, LogUniform)]
    _figure(result.run, fields, None, logs, out, f"successive halving, eta {args.eta}")
    for rank, setting in enumerate(result.ranking()[:10], start=1):
        values = ", ".join(f"{k}={v:g}" for k, v in result.settings[setting].items())
        print(f"{rank:>3}  setting {setting}: {values}")
    print(f"best setting {best}: {out / 'best.yaml'}")
    return True


def _figure(run, fields, highlight, logs, out, title) -> None:
    import matplotlib.pyplot as plt

    from purejaxppo.io.plots import save_figure

    fig = population_figure(run.metrics, run.lineage, fields, highlight, logs, title)
    save_figure(fig, out / "population.png")
    plt.close(fig)


def run_optuna(args: argparse.Namespace, config: PPOConfig, space: dict, out: Path) -> bool:
    """A batched Optuna study in `out/study.db`; writes trials.csv and best.yaml. Returns True."""
    import csv
    import io

    from purejaxppo.search.optuna_search import optuna_search

    bar = ProgressBar(enabled=not args.quiet, total=args.rounds * config.num_updates)
    try:
        result = optuna_search(
            config,
            space,
            args.batch_size,
            args.rounds,
            out / "study.db",
            sampler_seed=args.search_seed,
            seed=args.seed,
            callbacks=[bar],
        )
    finally:
        bar.close()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "round", "seed", "state", "value", *space])
    for t in result.trials:
        writer.writerow(
            [t["number"], t["round"], t["seed"], t["state"], t["value"]]
            + [t["params"].get(k) for k in space]
        )
    atomic_write_text(out / "trials.csv", buffer.getvalue())
    write_config_yaml(out / "best.yaml", config_to_dict(result.best_config()))
    print(f"best trial: {result.best_value:.2f} with {result.best_params}; {out / 'best.yaml'}")
    print(
        f"study: optuna.load_study(study_name='purejaxppo', storage='sqlite:///{(out / 'study.db').absolute()}')"
    )
    return True


def replay(args: argparse.Namespace) -> int:
    """`purejaxppo pbt --replay FILE [--out DIR]`: one run along the schedule, into a run folder."""
    from purejaxppo.cli.common import check_new_out_dir, default_out
    from purejaxppo.results import final_return
    from purejaxppo.search.replay import replay_schedule

    config, schedule, seed = read_schedule(args.replay)
    out = Path(args.out) if args.out else default_out(Path(args.replay).stem, "runs")
    check_new_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    write_config_yaml(out / "config.yaml", config_to_dict(config))
    bar = ProgressBar(enabled=not args.quiet)
    try:
        run = replay_schedule(config, schedule, seed, [bar, MemberCsvWriter(out / METRICS_FILE)])
    finally:
        bar.close()
    print(f"replayed {len(schedule)} intervals from seed {seed}: final return "
          f"{float(final_return(run.metrics['episode_return'])[0]):.2f}; metrics in {out}", file=sys.stdout)  # fmt: skip
    return 0
