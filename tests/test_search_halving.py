"""Synchronous successive halving: the keep/reassign rule against a plain Python reference, the
rung sizes, real copies in a tiny run, determinism, resume, and the errors a space can hit."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.search.halving import successive_halving
from purejaxppo.search.halving_ops import halving_assignment
from purejaxppo.sweep_space import Choice

pytestmark = pytest.mark.timeout(300)

# 5 updates of 4 envs x 32 steps; 8 settings halve at rungs of 1 update: 8 -> 4 -> 2 -> 1 -> 1.
CONFIG = PPOConfig(
    env_id="CartPole-v1",
    num_envs=4,
    num_steps=32,
    total_timesteps=5 * 128,
    update_epochs=2,
    num_minibatches=2,
)
SPACE = {"lr": [1e-4, 3e-4, 1e-3, 3e-3], "ent_coef": [0.0, 0.01]}


def reference_assignment(row_setting, row_scores, eta):
    """Successive halving's rung written out in plain Python, apart from the module's code."""
    population = len(row_setting)
    alive = sorted(set(row_setting))
    mean = {}
    for s in alive:
        rows = [x for r, x in zip(row_setting, row_scores, strict=True) if r == s]
        values = [x for x in rows if not math.isnan(x)]
        mean[s] = sum(values) / len(values) if values else None
    order = sorted(alive, key=lambda s: (mean[s] is None, -(mean[s] or 0.0), s))
    keep = order[: max(1, -(-len(alive) // eta))]
    new, parents, turn = list(row_setting), list(range(population)), 0
    for r in range(population):
        if row_setting[r] not in keep:
            survivor = keep[turn % len(keep)]
            turn += 1
            new[r], parents[r] = survivor, row_setting.index(survivor)
    return new, parents


def _leaves_equal(a, b) -> bool:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return all(np.array_equal(x, y) for x, y in pairs)


def _row(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def test_assignment_on_known_scores():
    nan = float("nan")
    # Rung 1: ranks 2, 3 (tie: lower index first), 0, 4, then the NaN settings 1 and 5.
    new, parents = halving_assignment(np.arange(6), np.array([1, nan, 3, 3, 0, nan]), 2)
    assert new.tolist() == [0, 2, 2, 3, 3, 0]
    assert parents.tolist() == [0, 2, 2, 3, 3, 0]
    # Rung 2: setting 0 scores mean(1, 3) = 2, setting 2 scores 5 (its NaN row left out),
    # setting 3 scores 2: keep 2 and 0 (the tie with 3 goes to the lower index).
    rows = np.array([0, 2, 2, 3, 3, 0])
    new, parents = halving_assignment(rows, np.array([1, 5, nan, 2, 2, 3]), 2)
    assert new.tolist() == [0, 2, 2, 2, 0, 0]
    assert parents.tolist() == [0, 1, 2, 1, 0, 5]


@pytest.mark.parametrize("eta", [2, 3, 4])
def test_assignment_matches_reference(eta):
    rng = np.random.default_rng(eta)
    for _ in range(200):
        population = int(rng.integers(2, 12))
        rows = rng.integers(0, population, population)
        # Few distinct values: ties are common; some rows have no finished episode.
        scores = rng.integers(0, 4, population).astype(np.float64)
        scores[rng.random(population) < 0.3] = np.nan
        new, parents = halving_assignment(rows, scores, eta)
        expected = reference_assignment(rows.tolist(), scores.tolist(), eta)
        assert (new.tolist(), parents.tolist()) == expected
        assert parents.dtype == np.int32


@pytest.mark.parametrize(
    ("settings", "eta", "sizes"), [(8, 2, [8, 4, 2, 1, 1]), (10, 3, [10, 4, 2, 1])]
)
def test_alive_counts_per_rung(settings, eta, sizes):
    rng = np.random.default_rng(0)
    rows, alive = np.arange(settings), []
    for _ in sizes:
        alive.append(np.unique(rows).size)
        previous = rows
        rows, parents = halving_assignment(rows, rng.normal(size=settings), eta)
        if alive[-1] == 1:  # one setting left: nothing moves
            assert np.array_equal(rows, previous)
            assert np.array_equal(parents, np.arange(settings))
    assert alive == sizes


class Record:
    """Keeps each interval's state before the step (on_chunk) and after it (on_interval)."""

    def __init__(self):
        self.before, self.after = [], []

    def on_chunk(self, metrics, state):
        self.before.append(jax.tree.map(np.asarray, state))

    def on_interval(self, row, population_state):
        self.after.append(population_state)


@pytest.fixture(scope="module")
def full_run():
    record = Record()
    result = successive_halving(CONFIG, SPACE, eta=2, rung_updates=1, seed=3, callbacks=[record])
    return result, record


def test_real_run_halves_and_copies(full_run):
    result, record = full_run
    rows, scores = result.row_settings, result.rung_scores
    assert rows.shape == (5, 8) and scores.shape == (5, 8)
    assert [np.unique(r).size for r in rows] == [8, 4, 2, 1, 1]
    assert np.array_equal(np.isnan(scores), ~np.stack([np.isin(np.arange(8), r) for r in rows]))
    for t in range(3):
        # The survivors are the best half by the rung's scores (the ranking's own checks above).
        alive = np.unique(rows[t])
        score = scores[t]
        kept = sorted(alive, key=lambda s: (np.isnan(score[s]), -np.nan_to_num(score[s]), s))
        assert set(np.unique(rows[t + 1])) == set(kept[: len(alive) // 2])
    parents = result.run.lineage["parent"]
    table = {n: np.array([s[n] for s in result.settings], np.float32) for n in SPACE}
    for t in range(4):
        before, after, moved = record.before[t], record.after[t], parents[t + 1]
        assert (moved != np.arange(8)).any() == (t < 3)
        for r in range(8):
            p, now = moved[r], _row(after.runner_state, r)
            # The learner comes from the parent, bit for bit; the RNG and envs stay the row's own.
            assert _leaves_equal(now.params, _row(before.params, p))
            assert _leaves_equal(now.opt_state, _row(before.opt_state, p))
            assert np.array_equal(now.rng, before.rng[r])
            assert _leaves_equal(now.env_state, _row(before.env_state, r))
            if p != r:  # a real copy: the row's own learner was different
                assert not _leaves_equal(_row(before.params, r), _row(before.params, p))
            for name, values in table.items():
                assert getattr(after.hparams, name)[r] == values[rows[t + 1, r]]
                assert result.run.lineage[name][t + 1, r] == values[rows[t + 1, r]]
    best = result.best_setting
    assert result.ranking()[0] == best and set(result.ranking()) == set(range(8))
    assert np.all(rows[-1] == best)
    eliminated_first = [s for s in range(8) if s not in rows[1]]
    assert set(result.ranking()[4:]) == set(eliminated_first)
    assert result.best_config().hparams.lr == pytest.approx(result.settings[best]["lr"])
    assert result.best_config().hparams.ent_coef == pytest.approx(result.settings[best]["ent_coef"])

    again = successive_halving(CONFIG, SPACE, eta=2, rung_updates=1, seed=3)
    for name, value in result.run.lineage.items():
        np.testing.assert_array_equal(again.run.lineage[name], value, err_msg=name)
    for name, value in result.run.metrics.items():
        np.testing.assert_array_equal(again.run.metrics[name], value, err_msg=name)


@pytest.mark.parametrize("stop_after", [1, 2, 3, 4])
def test_resume_equals_uninterrupted(full_run, stop_after):
    result, _ = full_run
    first = successive_halving(CONFIG, SPACE, eta=2, rung_updates=1, seed=3, stop_after=stop_after)
    assert not first.run.completed and first.run.num_intervals == stop_after
    resumed = successive_halving(CONFIG, SPACE, eta=2, rung_updates=1, seed=3, resume=first.state)
    assert resumed.run.completed
    for name, value in result.run.lineage.items():
        np.testing.assert_array_equal(resumed.run.lineage[name], value, err_msg=name)
    for name, value in result.run.metrics.items():
        np.testing.assert_array_equal(resumed.run.metrics[name], value, err_msg=name)
    assert _leaves_equal(resumed.run.runner_state, result.run.runner_state)
    assert resumed.ranking() == result.ranking()


@pytest.mark.parametrize(
    ("space", "options", "message"),
    [
        ({"num_envs": [4, 8]}, {}, "num_envs"),
        ({"lr": [1e-3, 3e-3], "hidden_sizes": Choice((32, 64))}, {}, "hidden_sizes"),
        ([{"lr": 1e-3}, {"update_epochs": 2}], {}, "update_epochs"),
        ({"lr": [1e-3]}, {}, "at least 2 settings"),
        ({"lr": [1e-3, 3e-3]}, {"eta": 1}, "eta"),
        ({"lr": [1e-3, 3e-3]}, {"eta": 2.0}, "eta"),
        ({"lr": [1e-3, 3e-3]}, {"rung_updates": 0}, "rung_updates"),
        ({"lr": [1e-3, 3e-3]}, {"rung_updates": 5}, "rung_updates"),
    ],
)
def test_errors(space, options, message):
    with pytest.raises(ConfigError, match=message) as error:
        successive_halving(CONFIG, space, **options)
    assert "\n" not in str(error.value)
