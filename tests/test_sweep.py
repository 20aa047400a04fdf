"""Sweeps that train: entries equal one `jit(vmap(train))` call of their batch bit for bit and
single runs closely, one compile for any number of traced settings, static fields group into one
program each, and the CLI's sweep folder."""

from __future__ import annotations

import csv

import chex
import jax
import numpy as np
import pytest

from purejaxppo import driver, load_config, make_train
from purejaxppo.cli import main
from purejaxppo.io.sweep_plots import write_sweep_plots
from purejaxppo.run_axis import pad_runs, run_keys
from purejaxppo.sweep import plan_groups, sweep
from purejaxppo.sweep_layout import group_inputs

pytestmark = pytest.mark.timeout(300)

LRS = [1e-3, 2.5e-4, 1e-4]  # 2.5e-4: the default lr (tests/test_sharding.py uses that)
SEED = 5
# The tiny config with obs_clip changed: unused without observation normalization, so the numbers
# equal the tiny config's, but the config (and so every compiled program) is this module's own.
TINY_SETS = ["num_envs=4", "num_steps=32", "total_timesteps=768", "update_epochs=2"]
TINY_SETS += ["num_minibatches=2", "obs_clip=9.0"]


@pytest.fixture(scope="module")
def sweeps(tiny_config):
    """A 3-setting x 2-seed grid, then 5 listed settings x 2 seeds in calls of 6 runs (two calls,
    the last padded), counting how often `init` and `update_step` are traced (once per compile
    of the batched init and of each chunk length)."""
    traces = []
    real_make_train = driver.make_train

    def counting_make_train(config):
        train = real_make_train(config)
        init, update_step = train.init, train.update_step

        def traced_init(rng, hparams):
            traces.append("init")
            return init(rng, hparams)

        def traced_update(state, hparams, *rest):
            traces.append("update")
            return update_step(state, hparams, *rest)

        train.init, train.update_step = traced_init, traced_update
        return train

    config = tiny_config.replace(obs_clip=9.0)  # no other test module may build this config
    driver._chunk_fns.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(driver, "make_train", counting_make_train)
        full = sweep(config, {"lr": LRS}, num_seeds=2, seed=SEED, chunk_updates=2)
        traces_full = list(traces)
        listed = [{"lr": 2e-3, "ent_coef": 0.0}, {"lr": 5e-4}] + [{"lr": lr} for lr in LRS]
        chunked = sweep(config, listed, num_seeds=2, seed=SEED, max_parallel=6, chunk_updates=2)
    driver._chunk_fns.cache_clear()
    return {
        "config": config,
        "listed": listed,
        "full": full,
        "chunked": chunked,
        "traces": (traces_full, traces),
    }


def test_one_compile_for_any_number_of_traced_settings(sweeps):
    # 6 runs, then 10 runs in two calls of 6: init and the 2-update chunk compiled once each
    assert sweeps["traces"] == (["init", "update"], ["init", "update"])
    assert sweeps["full"].num_programs == 1 and sweeps["chunked"].num_programs == 1
    assert sweeps["chunked"].compile_seconds == 0.0  # the compiled programs were reused
    assert sweeps["chunked"].layout["runs_per_call"] == [6]


def _one_call(config, seeds, hparams):
    """Metrics `[runs, updates]` of one `jit(vmap(train))` call over exactly this batch."""
    out = jax.jit(jax.vmap(make_train(config)))(run_keys(seeds), hparams)
    return {n: np.asarray(v) for n, v in vars(out.metrics).items()}


def test_a_sweep_equals_one_call_of_its_batches_bit_for_bit(sweeps):
    """Chunked in updates and in runs (the last call padded), every run has the bits of one
    `jit(vmap(train))` call over the batch it was trained in."""
    config, chunked = sweeps["config"], sweeps["chunked"]
    configs, (group,) = plan_groups(config, sweeps["listed"], 2, 6)
    seeds, hparams = group_inputs(group, configs, chunked.seeds)
    seeds, hparams = pad_runs(seeds, 12), pad_runs(hparams, 12)
    for call in range(2):
        part = slice(6 * call, 6 * call + 6)
        expected = _one_call(config, seeds[part], jax.tree.map(lambda x, p=part: x[p], hparams))
        for j in range(3 * call, min(5, 3 * call + 3)):  # settings 0-2, then 3-4 (+ padding)
            rows = slice(2 * j - 6 * call, 2 * j - 6 * call + 2)
            for name, values in chunked.metrics[j].items():
                np.testing.assert_array_equal(values, expected[name][rows], err_msg=name)


def test_sweep_entry_equals_the_single_run(sweeps, tiny_config, tiny_train_jit):
    full = sweeps["full"]
    assert list(full.seeds) == [SEED, SEED + 1]
    for s, lr in enumerate(LRS):
        assert full.metrics[s]["episode_return"].shape == (2, tiny_config.num_updates)
        for k in range(2):
            single = tiny_train_jit(
                jax.random.PRNGKey(SEED + k), tiny_config.hparams.replace(lr=lr)
            )
            entry = {n: v[k] for n, v in full.metrics[s].items()}
            expected = {n: np.asarray(v) for n, v in vars(single.metrics).items()}
            chex.assert_trees_all_close(entry, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(full.metrics[0]["learning_rate"][:, 0], 1e-3, rtol=1e-6)


def test_chunked_equals_unchunked(sweeps):
    full, chunked = sweeps["full"], sweeps["chunked"]
    assert len(chunked.metrics) == 5
    for s in range(3):  # the grid's settings sit in the padded last call of the chunked sweep
        for name, values in full.metrics[s].items():
            np.testing.assert_allclose(chunked.metrics[2 + s][name], values, rtol=1e-5, atol=1e-6)
    assert not np.allclose(chunked.metrics[0]["policy_loss"], full.metrics[0]["policy_loss"])


def test_one_field_plot(sweeps, tmp_path):
    paths = write_sweep_plots(sweeps["full"], tmp_path)
    assert sorted(p.name for p in paths) == ["learning_curves.png", "return_vs_lr.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


@pytest.mark.timeout(400)
def test_cli_sweep_folder_with_a_static_field(sweeps, tmp_path, capsys):
    out = tmp_path / "sweep"
    grid = ["--grid", "lr=1e-3,2.5e-4,1e-4", "--grid", "num_envs=4,8"]
    sets = [arg for s in TINY_SETS for arg in ("--set", s)]
    code = main(
        ["sweep", "--config", "cartpole", *sets, *grid, "--seeds", "2", "--seed", "5"]
        + ["--out", str(out)]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "in 2 compiled program(s) (one per static config)" in captured.err
    assert "program 2/2 (num_envs=8): 6 runs" in captured.err
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "best.yaml",
        "heatmap.png",
        "learning_curves.png",
        "metrics.csv",
        "results.csv",
        "sweep.yaml",
    ]
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 6 and [r["rank"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    means = [float(r["final_return_mean"]) for r in rows]
    assert means == sorted(means, reverse=True)
    # the num_envs=4 settings are the grid sweep's, same seeds: same numbers
    full_means = sweeps["full"].statistics()["mean"]
    for r in rows:
        if r["num_envs"] == "4":
            index = LRS.index(float(r["lr"]))
            assert float(r["final_return_mean"]) == pytest.approx(full_means[index], rel=1e-5)
    best = load_config(out / "best.yaml")
    assert best.num_envs == int(rows[0]["num_envs"]) and best.hparams.lr == pytest.approx(
        float(rows[0]["lr"])
    )
    assert "rank" in captured.out and "train the best with" in captured.out
    # the recorded sweep.yaml runs the same sweep again (from the cached programs)
    again = tmp_path / "again"
    assert main(["sweep", "--sweep", str(out / "sweep.yaml"), "--quiet", "--out", str(again)]) == 0
    assert (again / "results.csv").read_text() == (out / "results.csv").read_text()
    assert main(["sweep", "--grid", "lr=1e-3", "--out", str(out)]) == 2  # not empty: refused
