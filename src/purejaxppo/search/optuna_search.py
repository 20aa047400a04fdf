"""Batched Optuna search: each round asks Optuna for a batch of trials, trains them together as
one vmapped population program, and tells their final returns back (ask-and-tell).

Why batches: a round of B trials is one call of the population program (same config, same B),
so it compiles once per process and every later round reuses it; Optuna only proposes the
numbers. The study lives in a SQLite file, so a crashed or stopped search continues where it
ended.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.config import ConfigError, Hyperparams, PPOConfig
from purejaxppo.driver import notify
from purejaxppo.hparams import HPARAM_FIELDS
from purejaxppo.results import final_return
from purejaxppo.search.population import train_population
from purejaxppo.search.space import searchable_space
from purejaxppo.sweep_space import Choice, LogUniform

INSTALL_HINT = "the optuna strategy needs optuna: pip install 'purejaxppo[optuna]'"
# Marks a trial told FAIL because its final return was NaN: it counts as done on resume, unlike
# a trial left running by a crash.
NAN_ATTR = "final_return_nan"


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return optuna


def optuna_distributions(space: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna distributions of a space: `Uniform` -> `FloatDistribution`, `LogUniform` ->
    `FloatDistribution(log=True)`, `Choice` or a list of numbers -> `CategoricalDistribution`
    of floats.

    Returns:
        field -> `optuna.distributions.BaseDistribution`, in the space's order.

    Raises:
        ConfigError: a field that is not a hyperparameter (static fields change the program),
            an empty or invalid distribution, or a value out of the field's range.
        ImportError: optuna is not installed (with the install command).
    """
    checked = searchable_space(space, "optuna")
    distributions = _import_optuna().distributions
    out: dict[str, Any] = {}
    for name, dist in checked.items():
        if isinstance(dist, Choice):
            out[name] = distributions.CategoricalDistribution(dist.values)
        else:
            log = isinstance(dist, LogUniform)
            out[name] = distributions.FloatDistribution(dist.low, dist.high, log=log)
    return out


def trial_hparams(config: PPOConfig, params_list: Sequence[Mapping[str, float]]) -> Hyperparams:
    """`Hyperparams` with float32 leaves `[B]`: trial i's params where it has them, the config's
    values for every field it does not search."""
    base = config.hparams
    return Hyperparams(
        **{
            n: np.asarray([p.get(n, getattr(base, n)) for p in params_list], np.float32)
            for n in HPARAM_FIELDS
        }
    )


def rounds_done(study: Any, batch_size: int) -> int:
    """Rounds of `batch_size` trials already told: COMPLETE trials plus those told FAIL for a
    NaN final return, integer-divided by `batch_size` (a trial a crash left unfinished does
    not count)."""
    optuna = _import_optuna()
    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    told = sum(
        t.state == states.COMPLETE or (t.state == states.FAIL and t.user_attrs.get(NAN_ATTR, False))
        for t in trials
    )
    return told // batch_size


def tell_round(study: Any, trials: Sequence[Any], finals: np.ndarray) -> None:
    """Tells each trial its final return from `finals [B]`; a NaN return is told as FAIL
    (Optuna cannot rank NaN) and marked so that a resume counts it as done."""
    states = _import_optuna().trial.TrialState
    for trial, value in zip(trials, np.asarray(finals, np.float64), strict=True):
        if math.isnan(value):
            trial.set_user_attr(NAN_ATTR, True)
            study.tell(trial, state=states.FAIL)
        else:
            study.tell(trial, float(value))


def _fail_unfinished(study: Any) -> None:
    states = _import_optuna().trial.TrialState
    for trial in study.get_trials(deepcopy=False, states=(states.RUNNING,)):
        study.tell(trial.number, state=states.FAIL)


def _no_step(state: Any, hparams: Hyperparams, scores: np.ndarray, interval: int) -> Any:
    raise RuntimeError("a trial trains in one interval; the population step must never run")


def _storage_url(storage: str | Path) -> str:
    text = str(storage)
    return text if "://" in text else f"sqlite:///{Path(text).expanduser().resolve()}"


@dataclasses.dataclass
class OptunaResult:
    """A batched Optuna search: the study and every trial in it (earlier calls' included)."""

    config: PPOConfig  # the base config the trials' hyperparameters apply to
    study: Any  # the optuna Study
    # one dict per trial of the study: number, round, seed, params, value (NaN unless
    # COMPLETE), state (a TrialState name)
    trials: list[dict[str, Any]]
    best_params: dict[str, float]  # {} when no trial completed
    best_value: float  # NaN when no trial completed
    rounds_run: int  # rounds trained in this call (fewer than asked when resuming)

    def best_config(self) -> PPOConfig:
        """The base config with the best trial's hyperparameters applied, trainable as it is.

        Raises:
            ValueError: no trial completed.
        """
        if not self.best_params:
            raise ValueError("no trial of the study completed, so there is no best config")
        return self.config.replace(**self.best_params)


def _trial_records(study: Any) -> list[dict[str, Any]]:
    complete = _import_optuna().trial.TrialState.COMPLETE
    return [
        {
            "number": t.number,
            "round": t.user_attrs.get("round"),
            "seed": t.user_attrs.get("seed"),
            "params": dict(t.params),
            "value": float(t.value) if t.state == complete else math.nan,
            "state": t.state.name,
        }
        for t in study.get_trials(deepcopy=False)
    ]


def optuna_search(
    config: PPOConfig,
    space: Mapping[str, Any],
    batch_size: int,
    rounds: int,
    storage: str | Path,
    study_name: str = "purejaxppo",
    sampler: Any = None,
    sampler_seed: int = 0,
    seed: int = 0,
    callbacks: Sequence[Any] = (),
) -> OptunaResult:
    """Runs `rounds` rounds of Optuna ask-and-tell; each round trains `batch_size` trials as one
    vmapped program and maximizes their final return (`results.final_return`).

    Round r's trial i trains from `PRNGKey(seed + r * batch_size + i)`. Calling again with the
    same `storage` continues the study: complete rounds are not retrained, trials a crash left
    unfinished are told FAIL and their round runs again, up to `rounds` rounds in total. One
    process at a time may run a study.

    Args:
        space: hyperparameter -> `Uniform` / `LogUniform` / `Choice` or a list of numbers.
        storage: a SQLite file path (created if missing), or an RDB URL such as `sqlite:///...`.
        sampler: an Optuna sampler (default `TPESampler(seed=sampler_seed)`).
        callbacks: any of `on_round_start(round, num_rounds, params_list)`,
            `on_round_end(round, finals [B])`, and those of `train_population` (`on_start`,
            `on_chunk`, `on_interval`), which see each round's training.

    Returns:
        `OptunaResult` over the whole study.

    Raises:
        ConfigError: a static field or an invalid distribution in `space`, `batch_size` or
            `rounds` below 1.
        ImportError: optuna is not installed (with the install command).
    """
    for name, value in (("batch_size", batch_size), ("rounds", rounds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    distributions = optuna_distributions(space)
    optuna = _import_optuna()
    study = optuna.create_study(
        direction="maximize",
        storage=optuna.storages.RDBStorage(_storage_url(storage)),
        study_name=study_name,
        load_if_exists=True,
        sampler=sampler or optuna.samplers.TPESampler(seed=sampler_seed),
    )
    _fail_unfinished(study)
    first = rounds_done(study, batch_size)
    for round_ in range(first, rounds):
        trials = [study.ask(distributions) for _ in range(batch_size)]
        seeds = seed + round_ * batch_size + np.arange(batch_size)
        for trial, trial_seed in zip(trials, seeds, strict=True):
            trial.set_user_attr("round", round_)
            trial.set_user_attr("seed", int(trial_seed))
        params_list = [dict(t.params) for t in trials]
        notify(callbacks, "on_round_start", round_, rounds, params_list)
        hparams = trial_hparams(config, params_list)
        run, _ = train_population(
            config, hparams, seeds, config.num_updates, _no_step, callbacks=callbacks
        )
        finals = final_return(run.metrics["episode_return"])
        tell_round(study, trials, finals)
        notify(callbacks, "on_round_end", round_, finals)
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = study.best_trial if completed else None
    return OptunaResult(
        config=config,
        study=study,
        trials=_trial_records(study),
        best_params=dict(best.params) if best else {},
        best_value=float(best.value) if best else math.nan,
        rounds_run=max(0, rounds - first),
    )
