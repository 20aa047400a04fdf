"""Batched Optuna search: determinism, the study file, resume, spaces and errors."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from purejaxppo.config import ConfigError
from purejaxppo.search.optuna_search import (
    INSTALL_HINT,
    optuna_distributions,
    optuna_search,
    rounds_done,
    tell_round,
)
from purejaxppo.sweep_space import Choice, LogUniform, Uniform

optuna = pytest.importorskip("optuna")
pytestmark = pytest.mark.timeout(300)

# One batch size everywhere, so every search reuses one compiled population program.
BATCH = 3
SPACE = {"lr": LogUniform(1e-4, 1e-2), "clip_eps": Uniform(0.1, 0.3)}


class RoundCounter:
    """Records the rounds a search trains and what the training callbacks saw."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.ended: list[tuple[int, np.ndarray]] = []
        self.chunks = 0

    def on_round_start(self, round_: int, num_rounds: int, params_list: list[dict]) -> None:
        assert len(params_list) == BATCH
        self.started.append(round_)

    def on_round_end(self, round_: int, finals: np.ndarray) -> None:
        self.ended.append((round_, finals))

    def on_chunk(self, metrics: dict, state: object) -> None:
        self.chunks += 1


def _storage(tmp_path, name: str = "study.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def test_fixed_sampler_seed_gives_same_trials_and_values(tiny_config, tmp_path):
    kwargs = dict(space=SPACE, batch_size=BATCH, rounds=2, sampler_seed=7, seed=3)
    counter = RoundCounter()
    a = optuna_search(tiny_config, storage=tmp_path / "a.db", callbacks=[counter], **kwargs)
    b = optuna_search(tiny_config, storage=tmp_path / "b.db", **kwargs)
    assert [t["params"] for t in a.trials] == [t["params"] for t in b.trials]
    assert [t["value"] for t in a.trials] == [t["value"] for t in b.trials]  # bit for bit
    assert [t["round"] for t in a.trials] == [0, 0, 0, 1, 1, 1]
    assert [t["seed"] for t in a.trials] == [3, 4, 5, 6, 7, 8]
    assert all(t["state"] == "COMPLETE" for t in a.trials)
    assert len({t["params"]["lr"] for t in a.trials}) == 2 * BATCH  # distinct draws
    assert counter.started == [0, 1] and counter.chunks == 2
    np.testing.assert_array_equal(counter.ended[1][1], [t["value"] for t in a.trials[3:]])
    assert a.best_value == max(t["value"] for t in a.trials)
    best = a.best_config()
    assert best.hparams.lr == a.best_params["lr"] and best.num_envs == tiny_config.num_envs


def test_study_file_reopens_with_the_result_values(tiny_config, tmp_path):
    result = optuna_search(
        tiny_config, SPACE, BATCH, rounds=1, storage=tmp_path / "s.db", study_name="cartpole"
    )
    study = optuna.load_study(study_name="cartpole", storage=_storage(tmp_path, "s.db"))
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == BATCH
    assert [t.value for t in complete] == [t["value"] for t in result.trials]
    assert study.best_value == result.best_value


def test_resume_runs_only_missing_rounds_and_fails_orphans(tiny_config, tmp_path):
    storage = tmp_path / "r.db"
    first = optuna_search(tiny_config, SPACE, BATCH, rounds=1, storage=storage)
    # A crash mid-round: trials asked, never told.
    study = optuna.load_study(study_name="purejaxppo", storage=_storage(tmp_path, "r.db"))
    distributions = optuna_distributions(SPACE)
    orphans = [study.ask(distributions).number for _ in range(BATCH - 1)]
    counter = RoundCounter()
    second = optuna_search(
        tiny_config, SPACE, BATCH, rounds=2, storage=storage, callbacks=[counter]
    )
    assert counter.started == [1] and second.rounds_run == 1
    states = {t["number"]: t["state"] for t in second.trials}
    assert [states[n] for n in orphans] == ["FAIL"] * len(orphans)
    complete = [t for t in second.trials if t["state"] == "COMPLETE"]
    assert len(complete) == 2 * BATCH
    assert [t["value"] for t in complete[:BATCH]] == [t["value"] for t in first.trials]
    assert [t["round"] for t in complete] == [0] * BATCH + [1] * BATCH
    again = optuna_search(tiny_config, SPACE, BATCH, rounds=2, storage=storage)
    assert again.rounds_run == 0 and len(again.trials) == len(second.trials)


def test_choice_and_loguniform_stay_in_the_space(tiny_config, tmp_path):
    space = {"ent_coef": [0.0, 0.01], "gamma": Choice((0.9, 0.99)), "lr": LogUniform(3e-4, 3e-3)}
    result = optuna_search(tiny_config, space, BATCH, rounds=1, storage=tmp_path / "c.db")
    for trial in result.trials:
        assert trial["params"]["ent_coef"] in (0.0, 0.01)
        assert trial["params"]["gamma"] in (0.9, 0.99)
        assert 3e-4 <= trial["params"]["lr"] <= 3e-3
        assert math.isfinite(trial["value"])


def test_nan_final_return_is_told_fail_and_counts_as_done(tmp_path):
    study = optuna.create_study(direction="maximize", storage=_storage(tmp_path, "n.db"))
    trials = [study.ask(optuna_distributions(SPACE)) for _ in range(2)]
    tell_round(study, trials, np.array([1.5, np.nan]))
    states = [t.state for t in study.get_trials()]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL]
    assert rounds_done(study, 2) == 1


@pytest.mark.parametrize(
    "space, batch_size, rounds, match",
    [
        ({"num_envs": [4, 8]}, BATCH, 1, "'num_envs' cannot be searched by optuna"),
        (SPACE, 0, 1, "batch_size must be a positive integer"),
        (SPACE, BATCH, 0, "rounds must be a positive integer"),
        ({"lr": LogUniform(0.0, 1e-3)}, BATCH, 1, "out of range"),
        ({"gamma": []}, BATCH, 1, "non-empty list"),
    ],
)
def test_bad_arguments_raise_config_error(tiny_config, tmp_path, space, batch_size, rounds, match):
    with pytest.raises(ConfigError, match=match) as error:
        optuna_search(tiny_config, space, batch_size, rounds, storage=tmp_path / "e.db")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "e.db").exists()  # nothing created before the arguments check


def test_missing_optuna_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match="pip install 'purejaxppo\\[optuna\\]'") as error:
        optuna_distributions(SPACE)
    assert str(error.value) == INSTALL_HINT
