"""Your own environment: register_env, --import / imports:, env_params overrides, and the
reference_return that belongs to an environment."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import user_envs
from purejaxppo import ConfigError, PPOConfig, load_config, make_train, register_env, train_seeds
from purejaxppo.cli import main
from purejaxppo.envs import registered_env_ids

pytestmark = pytest.mark.timeout(300)

TESTS = Path(__file__).parent
TINY = ["--set", "total_timesteps=1024", "--set", "num_steps=32", "--set", "num_envs=4"]


def test_a_registered_env_trains_and_env_params_override_its_fields():
    assert "UserCorridor-v0" in registered_env_ids()
    config = PPOConfig(
        env_id="UserCorridor-v0",
        env_params={"max_steps_in_episode": 7, "length": 30},
        num_envs=4,
        num_steps=32,
        total_timesteps=1024,
    )
    train = make_train(config)
    assert (train.env_params.max_steps_in_episode, train.env_params.length) == (7, 30)
    result = train_seeds(config, num_seeds=1)
    lengths = result.metrics["episode_length"]
    # the far end is 29 steps away, so every episode is cut at the new limit of 7
    assert np.nanmax(lengths) == 7 and np.nanmin(lengths) == 7


def test_env_kwargs_reach_the_factory():
    config = PPOConfig(env_id="UserCorridor-v0", env_kwargs={"step_cost": 0.5})
    assert make_train(config).env.env.step_cost == 0.5


def test_unknown_env_params_field_is_named_with_a_suggestion():
    with pytest.raises(ConfigError, match=r"has no field 'max_step_in_episode'; did you mean "
                       r"'max_steps_in_episode'\? its fields: "):  # fmt: skip
        make_train(PPOConfig(env_params={"max_step_in_episode": 200}))


def test_a_params_field_given_as_env_kwargs_points_to_env_params():
    with pytest.raises(ConfigError, match=r"max_steps_in_episode is a field of the env params: "
                       r"set it with env_params instead"):  # fmt: skip
        make_train(PPOConfig(env_kwargs={"max_steps_in_episode": 200}))


def test_register_env_refuses_gymnax_ids_and_silent_overwrites():
    with pytest.raises(ConfigError, match="is a gymnax id already"):
        register_env("CartPole-v1", user_envs.Corridor)
    with pytest.raises(ConfigError, match="pass overwrite=True"):
        register_env("UserCorridor-v0", lambda: user_envs.Corridor())
    register_env("UserCorridor-v0", user_envs.Corridor)  # the same factory again: fine


def test_unknown_env_names_the_list_command_and_register_env():
    with pytest.raises(ConfigError, match=r"unknown environment 'UserCoridor-v0'; close ids: "
                       r"UserCorridor-v0.*purejaxppo list envs.*register_env"):  # fmt: skip
        make_train(PPOConfig(env_id="UserCoridor-v0"))


def test_reference_return_is_dropped_when_the_environment_changes():
    assert load_config("cartpole").reference_return == 490
    assert load_config("cartpole", ["lr=1e-3"]).reference_return == 490
    assert load_config("cartpole", ["env_id=Acrobot-v1"]).reference_return is None
    assert (
        load_config("cartpole", ["env_params={max_steps_in_episode: 100}"]).reference_return is None
    )
    given = load_config("cartpole", ["env_id=Acrobot-v1", "reference_return=-90"])
    assert given.reference_return == -90
    base = load_config("cartpole")
    assert base.replace(env_id="Acrobot-v1").reference_return is None
    assert base.replace(num_envs=8).reference_return == 490


def test_import_flag_errors_are_one_line(capsys):
    code = main(["train", "--import", "no_such_env_module_xyz", "--quiet", *TINY])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert err.startswith("error: --import: no module named 'no_such_env_module_xyz'")


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "purejaxppo.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.timeout(300)
def test_own_network_on_own_env_with_env_params_and_evaluation_from_the_cli(tmp_path):
    """The workflow end to end in fresh processes: --import registers the env (found in the
    current folder), the config names the network by reference, env_params change the time
    limit, eval_every evaluates while training; a second process evaluates the run folder,
    whose config.yaml alone brings the import back."""
    out = tmp_path / "run"
    train = _cli(
        ["train", "--import", "user_envs", "--seeds", "2", "--quiet", "--out", str(out), *TINY,
         "--set", "env_id=UserCorridor-v0", "--set", "env_params={max_steps_in_episode: 12}",
         "--set", "network=user_networks:SharedTrunk", "--set", "eval_every=2"],
        cwd=TESTS,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-2000:]
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["imports"] == ["user_envs"] and saved["network"] == "user_networks:SharedTrunk"
    assert saved["env_params"] == {"max_steps_in_episode": 12}
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    evaluated = [int(r["update"]) for r in rows if r["eval_return"] and r["seed"] == "0"]
    assert evaluated == [2, 4, 6, 8]  # every 2nd of 8 updates (the last is one of them)
    assert all(float(r["eval_length"]) <= 12 for r in rows if r["eval_length"])
    assert "mean return of the last evaluation" in train.stdout
    evaluation = _cli(["eval", str(out), "--episodes", "4"], cwd=TESTS)
    assert evaluation.returncode == 0, evaluation.stderr[-2000:]


@pytest.mark.timeout(300)
def test_imports_in_a_config_file_run_before_the_environment_is_made(tmp_path):
    config = tmp_path / "corridor.yaml"
    config.write_text(
        "imports: [user_envs]\nenv_id: UserCorridor-v0\ntotal_timesteps: 1024\nnum_steps: 32\n"
    )
    done = _cli(["train", "--config", str(config), "--quiet", "--out", str(tmp_path / "r")], TESTS)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "UserCorridor-v0" in done.stdout


def test_a_sweep_over_environments_drops_the_reference_return():
    from purejaxppo.sweep import plan_groups

    base = load_config("cartpole")
    configs, _ = plan_groups(base, [{"env_id": "Acrobot-v1"}, {"lr": 1e-3}], 1, None)
    assert configs[0].reference_return is None and configs[1].reference_return == 490
