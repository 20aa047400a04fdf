"""Population-based training: the exploit/explore arithmetic against a NumPy reference, real
copies, determinism, resume, schedules and replay, and the value test on CartPole."""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np
import pytest

from purejaxppo import PPOConfig, load_config
from purejaxppo.config import ConfigError
from purejaxppo.io.checkpoint import CheckpointStore
from purejaxppo.io.population_files import PopulationCheckpointer, restore_population
from purejaxppo.search import PBTOptions, pbt
from purejaxppo.search.pbt import explore_spec, initial_hparams
from purejaxppo.search.pbt_ops import (
    ExploreSpec,
    FieldSpec,
    bottom_count,
    exploit_parents,
    explore,
)
from purejaxppo.search.replay import replay_schedule
from purejaxppo.sweep import sweep
from purejaxppo.sweep_space import Choice, LogUniform, Uniform

pytestmark = pytest.mark.timeout(600)

SPACE = {"lr": LogUniform(1e-4, 1e-2), "ent_coef": Choice((0.0, 0.01, 0.02))}


@pytest.fixture(scope="module")
def small() -> PPOConfig:
    """CartPole, 12 updates of 4 envs x 32 steps."""
    return PPOConfig(
        env_id="CartPole-v1",
        num_envs=4,
        num_steps=32,
        total_timesteps=12 * 128,
        update_epochs=2,
        num_minibatches=2,
    )


def reference_parents(scores, quantile, u_parent):
    """Who copies whom, written as plainly as possible."""
    population = len(scores)
    n = min(population // 2, max(1, math.floor(quantile * population)))
    key = [(-(s if not math.isnan(s) else -math.inf), i) for i, s in enumerate(scores)]
    order = [i for _, i in sorted(key)]
    parents = list(range(population))
    for member in order[population - n :]:
        parents[member] = order[:n][min(int(u_parent[member] * n), n - 1)]
    return parents


def reference_value(field, value, u_resample, u_up, u_new, factors, probability):
    if field.choices:
        choices = list(field.choices)
        if u_resample < probability:
            return choices[min(int(u_new * len(choices)), len(choices) - 1)]
        index = min(range(len(choices)), key=lambda i: abs(choices[i] - value))
        index = min(max(index + (1 if u_up >= 0.5 else -1), 0), len(choices) - 1)
        return choices[index]
    if u_resample < probability:
        if field.log:
            return math.exp(
                math.log(field.low) + u_new * (math.log(field.high) - math.log(field.low))
            )
        return field.low + u_new * (field.high - field.low)
    return min(max(value * (factors[1] if u_up >= 0.5 else factors[0]), field.low), field.high)


@pytest.mark.parametrize(
    ("scores", "quantile"),
    [
        ([5.0, 1.0, 3.0, 4.0, 2.0, 0.0, 7.0, 6.0], 0.25),
        ([1.0, 1.0, 1.0, 1.0], 0.25),  # ties: lower index ranks first
        ([2.0, float("nan"), 3.0, 1.0, float("nan")], 0.4),  # NaN ranks last
        ([3.0, 1.0], 0.5),
        ([9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0], 0.3),
    ],
)
def test_exploit_parents_match_numpy_reference(scores, quantile):
    rng = np.random.default_rng(len(scores))
    u = rng.uniform(size=len(scores))
    got = np.asarray(exploit_parents(np.asarray(scores, np.float32), quantile, u))
    assert got.tolist() == reference_parents(scores, quantile, u)


def test_bottom_count_is_the_floor_of_the_quantile_within_bounds():
    assert [bottom_count(p, 0.25) for p in (1, 2, 3, 4, 8, 10, 16)] == [0, 1, 1, 1, 2, 2, 4]
    assert bottom_count(8, 0.5) == 4 and bottom_count(3, 0.5) == 1


def test_explore_matches_numpy_reference_and_stays_in_bounds():
    spec = ExploreSpec(
        (
            FieldSpec("lr", 1e-4, 1e-2, log=True),
            FieldSpec("clip_eps", 0.1, 0.3),
            FieldSpec("ent_coef", 0.0, 0.02, choices=(0.0, 0.01, 0.02)),
        ),
        (0.8, 1.2),
        0.3,
    )
    population = 8
    rng = np.random.default_rng(1)
    config = PPOConfig()
    lr = np.asarray([1e-4, 2e-3, 9.5e-3, 5e-4, 1e-3, 1e-2, 3e-4, 7e-4], np.float32)
    clip = np.asarray([0.1, 0.15, 0.2, 0.29, 0.3, 0.25, 0.12, 0.2], np.float32)
    ent = np.asarray([0.0, 0.01, 0.02, 0.0, 0.01, 0.02, 0.0, 0.01], np.float32)
    hp = initial_hparams(config, {"lr": [1.0]}, population, 0).replace(
        lr=lr, clip_eps=clip, ent_coef=ent
    )
    parents = np.asarray([0, 0, 2, 5, 4, 5, 2, 1], np.int32)  # members 1, 3, 6, 7 copied
    draws = {
        k: rng.uniform(size=(3, population)).astype(np.float32) for k in ("resample", "up", "new")
    }
    draws["parent"] = rng.uniform(size=population).astype(np.float32)
    out = explore(spec, hp, parents, draws)
    for row, field in enumerate(spec.fields):
        values = np.asarray(getattr(hp, field.name), np.float64)
        got = np.asarray(getattr(out, field.name))
        for m in range(population):
            if parents[m] == m:
                assert got[m] == values[m]
                continue
            want = reference_value(
                field, values[parents[m]], draws["resample"][row, m], draws["up"][row, m],
                draws["new"][row, m], (0.8, 1.2), 0.3,
            )  # fmt: skip
            assert got[m] == pytest.approx(want, rel=1e-5), (field.name, m)
            assert field.low - 1e-9 <= got[m] <= field.high * (1 + 1e-6)
    np.testing.assert_array_equal(np.asarray(out.gamma), np.asarray(hp.gamma))  # unsearched


def test_copying_is_real_params_and_optimizer_state_bit_for_bit(small):
    # stopped after one interval: the state is the one after its exploit-and-explore step
    before = pbt(small, SPACE, 4, ready_every=4, quantile=0.5, seed=0, search_seed=3,
                 stop_after=1)  # fmt: skip
    state = before.state
    parents = state.parents
    copied = [m for m in range(4) if parents[m] != m]
    assert len(copied) == 2
    for m in copied:
        p = int(parents[m])
        for leaf in jax.tree.leaves(state.runner_state.params):
            np.testing.assert_array_equal(np.asarray(leaf)[m], np.asarray(leaf)[p])
        for leaf in jax.tree.leaves(state.runner_state.opt_state):
            np.testing.assert_array_equal(np.asarray(leaf)[m], np.asarray(leaf)[p])
        # its own environments and random stream stay its own
        assert not np.array_equal(
            np.asarray(state.runner_state.rng)[m], np.asarray(state.runner_state.rng)[p]
        )
        assert np.asarray(state.hparams.lr)[m] != np.asarray(state.hparams.lr)[p] or (
            np.asarray(state.hparams.ent_coef)[m] != np.asarray(state.hparams.ent_coef)[p]
        )  # explored: some searched value moved
    kept = [m for m in range(4) if parents[m] == m]
    first = before.run.lineage
    for m in kept:
        assert np.asarray(state.hparams.lr)[m] == first["lr"][0, m]


def test_same_seed_same_history_and_resume_equals_one_call(small, tmp_path):
    options = {"ready_every": 3}
    whole = pbt(small, SPACE, 4, **options, seed=1, search_seed=7)
    again = pbt(small, SPACE, 4, **options, seed=1, search_seed=7)
    store = CheckpointStore(tmp_path / "checkpoints")
    saver = PopulationCheckpointer(store, 1, small.num_updates, {"strategy": "pbt"})
    pbt(small, SPACE, 4, **options, seed=1, search_seed=7, callbacks=[saver], stop_after=2)
    resumed_from = restore_population(store, small, 4)
    assert resumed_from.interval == 2
    rest = pbt(small, SPACE, 4, **options, seed=1, search_seed=7, resume=resumed_from)
    for other in (again, rest):
        for name, value in whole.run.lineage.items():
            np.testing.assert_array_equal(value, other.run.lineage[name], err_msg=name)
        for name, value in whole.run.metrics.items():
            np.testing.assert_array_equal(value, other.run.metrics[name], err_msg=name)
    assert whole.run.lineage["parent"].shape == (4, 4)  # 12 updates / 3 per interval
    different = pbt(small, SPACE, 4, **options, seed=1, search_seed=8)
    assert not np.array_equal(different.run.lineage["lr"], whole.run.lineage["lr"])


def test_schedule_follows_the_ancestry_and_replay_applies_it(small):
    result = pbt(small, SPACE, 4, ready_every=3, quantile=0.5, seed=0, search_seed=2)
    lineage = result.run.lineage
    chain = result.ancestry()
    assert chain[-1] == result.best_member
    for t in range(1, chain.shape[0]):
        assert lineage["parent"][t, chain[t]] == chain[t - 1]
    schedule = result.schedule()
    assert [s["start_update"] for s in schedule] == [0, 3, 6, 9]
    for t, entry in enumerate(schedule):
        assert entry["lr"] == pytest.approx(float(lineage["lr"][t, chain[t]]))
    replay = replay_schedule(small, schedule, seed=5)
    # the learning rate in force: the schedule's value, annealed by the fraction of updates left
    lr = replay.metrics["learning_rate"][0]
    for entry in schedule:
        u = entry["start_update"]
        assert lr[u] == pytest.approx(entry["lr"] * (1 - u / small.num_updates), rel=1e-5)
    in_force = replay.lineage["ent_coef"][:, 0].tolist()
    assert in_force == pytest.approx([s["ent_coef"] for s in schedule])


@pytest.mark.parametrize(
    ("space", "population", "options", "message"),
    [
        ({"num_envs": Choice((4.0, 8.0))}, 4, PBTOptions(ready_every=3), "only hyperparameters"),
        (SPACE, 1, PBTOptions(ready_every=3), "at least 2 members"),
        (SPACE, 4, PBTOptions(ready_every=12), "leaves no exploit step"),
        (SPACE, 4, PBTOptions(ready_every=3, quantile=0.7), "quantile"),
        (SPACE, 4, PBTOptions(ready_every=3, factors=(1.2, 0.8)), "factors"),
        ({}, 4, PBTOptions(ready_every=3), "non-empty mapping"),
    ],
)
def test_bad_pbt_settings_are_one_line_errors(small, space, population, options, message):
    with pytest.raises(ConfigError, match=message) as info:
        pbt(small, space, population, **dataclasses.asdict(options))
    assert "\n" not in str(info.value)


def test_explore_spec_reads_bounds_and_choices():
    spec = explore_spec({"lr": LogUniform(1e-4, 1e-2), "clip_eps": Uniform(0.1, 0.3),
                         "ent_coef": [0.02, 0.0]}, PBTOptions())  # fmt: skip
    assert spec.fields[0] == FieldSpec("lr", 1e-4, 1e-2, log=True)
    assert spec.fields[1] == FieldSpec("clip_eps", 0.1, 0.3)
    assert spec.fields[2].choices == (0.0, 0.02)


@pytest.mark.slow
def test_pbt_beats_the_grid_of_its_initial_settings_on_cartpole():
    """Initial learning rates log-uniform on 1e-5..1e-2 (most of them bad): PBT with 8 members
    ends higher, in mean final return, than the same 8 settings trained without PBT at the same
    env steps, in each of 3 seeds of the whole experiment."""
    config = load_config("cartpole", ["total_timesteps=120000"])
    space = {"lr": LogUniform(1e-5, 1e-2)}
    for experiment in range(3):
        result = pbt(config, space, 8, ready_every=20, seed=10 * experiment,
                     search_seed=experiment)  # fmt: skip
        initial = initial_hparams(config, space, 8, experiment)
        grid = sweep(
            config, [{"lr": float(x)} for x in initial.lr], num_seeds=1, seed=10 * experiment
        )
        pbt_mean = float(np.nanmean(result.final_returns))
        grid_mean = float(np.nanmean(grid.final_returns))
        assert pbt_mean > grid_mean + 50, (experiment, pbt_mean, grid_mean)


def test_a_stopped_run_saves_its_last_interval_and_resumes_from_it(small, tmp_path):
    """Ctrl-C sets `stop`: the run ends after the interval in progress, and the checkpointer
    saves that interval even between its regular saves."""
    import threading

    stop = threading.Event()

    class StopAfterSecond:
        def on_interval(self, row, state):
            if state.interval == 2:
                stop.set()

    store = CheckpointStore(tmp_path / "checkpoints")
    saver = PopulationCheckpointer(store, 10, small.num_updates, {"strategy": "pbt"}, stop)
    stopped = pbt(small, SPACE, 4, ready_every=3, seed=2, search_seed=1,
                  callbacks=[StopAfterSecond(), saver], stop=stop)  # fmt: skip
    assert not stopped.run.completed and stopped.run.num_intervals == 2
    assert store.steps() == [6]
    rest = pbt(small, SPACE, 4, ready_every=3, seed=2, search_seed=1,
               resume=restore_population(store, small, 4))  # fmt: skip
    whole = pbt(small, SPACE, 4, ready_every=3, seed=2, search_seed=1)
    for name, value in whole.run.metrics.items():
        np.testing.assert_array_equal(value, rest.run.metrics[name], err_msg=name)
    np.testing.assert_array_equal(whole.run.lineage["parent"], rest.run.lineage["parent"])
