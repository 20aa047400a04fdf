"""Tests for `PPOConfig`, its validation errors, and loading configs from YAML and overrides."""

from __future__ import annotations

import copy
import dataclasses
import re

import numpy as np
import pytest
import yaml

from purejaxppo.config import ConfigError, ConfigTypeError, Hyperparams, PPOConfig
from purejaxppo.loading import (
    available_configs,
    config_from_dict,
    config_to_dict,
    load_config,
)


def raises(exc, pattern):
    """`pytest.raises` that also checks the message is one line."""
    return _OneLine(pytest.raises(exc, match=pattern))


class _OneLine:
    def __init__(self, ctx):
        self.ctx = ctx

    def __enter__(self):
        self.info = self.ctx.__enter__()
        return self.info

    def __exit__(self, *exc_info):
        swallowed = self.ctx.__exit__(*exc_info)  # re-raises anything unexpected
        if swallowed:
            message = str(self.info.value)
            assert "\n" not in message, f"message is not one line: {message!r}"
        return swallowed


@pytest.fixture
def yaml_file(tmp_path):
    """Writes `text` to a YAML file in tmp_path and returns its path."""

    def write(text, name="run.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


SMALL = "num_envs: 4\nnum_steps: 32\ntotal_timesteps: 4096\nnum_minibatches: 2\nlr: 0.001\n"


# ------------------------------------------------------------------ derived sizes


def test_derived_sizes():
    config = PPOConfig(num_envs=8, num_steps=16, total_timesteps=1000, num_minibatches=4)
    assert config.batch_size == 128
    assert config.minibatch_size == 32
    assert config.num_updates == 7  # 1000 // 128, rounded down
    assert config.env_steps_per_run == 896


def test_derived_sizes_exact_budget():
    config = PPOConfig(num_envs=2, num_steps=5, total_timesteps=30, num_minibatches=5)
    assert (config.batch_size, config.minibatch_size) == (10, 2)
    assert (config.num_updates, config.env_steps_per_run) == (3, 30)


def test_defaults_are_valid_and_frozen():
    config = PPOConfig()
    assert config.batch_size == config.num_envs * config.num_steps
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.num_envs = 8  # type: ignore[misc]


def test_replace_routes_hyperparameters_into_hparams():
    config = PPOConfig().replace(num_envs=8, lr=1e-3, gamma=0.9)
    assert config.num_envs == 8
    assert config.hparams.lr == 1e-3 and config.hparams.gamma == 0.9
    assert config.hparams.gae_lambda == Hyperparams().gae_lambda


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"num_envs": 0}, "num_envs"),
        ({"num_steps": -1}, "num_steps"),
        ({"update_epochs": 0}, "update_epochs"),
        ({"num_minibatches": 0}, "num_minibatches"),
        ({"total_timesteps": -5}, "total_timesteps"),
        ({"num_envs": True}, "num_envs"),
        ({"num_envs": 4.0}, "num_envs"),
    ],
)
def test_non_positive_or_non_integer_sizes(kwargs, name):
    value = next(iter(kwargs.values()))
    with raises(ConfigError, rf"{name} must be a positive integer, got {re.escape(repr(value))}"):
        PPOConfig(**kwargs)


def test_batch_not_divisible_by_minibatches_lists_divisors():
    with raises(ConfigError, r"num_minibatches=5") as info:
        PPOConfig(num_envs=4, num_steps=6, num_minibatches=5)
    message = str(info.value)
    assert "24" in message
    assert "1, 2, 3, 4, 6, 8, 12, 24" in message


def test_total_timesteps_smaller_than_one_update():
    with raises(ConfigError, r"total_timesteps=100 .*smaller than one update") as info:
        PPOConfig(num_envs=4, num_steps=128, total_timesteps=100)
    assert "512" in str(info.value)


@pytest.mark.parametrize(
    "field,value,interval",
    [
        ("lr", -1.0, "(0, inf]"),
        ("lr", 0.0, "(0, inf]"),
        ("lr", float("nan"), "(0, inf]"),
        ("gamma", 1.5, "[0, 1]"),
        ("gamma", -0.1, "[0, 1]"),
        ("gae_lambda", 2.0, "[0, 1]"),
        ("clip_eps", 0.0, "(0, inf]"),
        ("ent_coef", -0.01, "[0, inf]"),
        ("target_kl", -1.0, "[0, inf]"),
    ],
)
def test_out_of_range_hyperparameters(field, value, interval):
    pattern = rf"{field}=.* out of range.*{re.escape(interval)}"
    with raises(ConfigError, pattern):
        PPOConfig(hparams=Hyperparams(**{field: value}))
    with raises(ConfigError, pattern):
        config_from_dict({field: value})


@pytest.mark.parametrize(
    "field,value",
    [("gamma", 1.0), ("gamma", 0.0), ("target_kl", 0.0), ("ent_coef", 0.0), ("gae_lambda", 1.0)],
)
def test_range_bounds_that_are_allowed(field, value):
    assert getattr(PPOConfig(hparams=Hyperparams(**{field: value})).hparams, field) == value


def test_stacked_hyperparameters_are_checked_elementwise():
    with raises(ConfigError, r"lr=.*out of range"):
        PPOConfig(hparams=Hyperparams(lr=np.array([1e-3, -1e-3])))


def test_other_field_errors():
    with raises(ConfigError, r"activation must be one of tanh, relu, gelu, .*, got 'sigmoid'"):
        PPOConfig(activation="sigmoid")
    with raises(ConfigError, r"hidden_sizes"):
        PPOConfig(hidden_sizes=())
    with raises(ConfigError, r"obs_clip must be positive"):
        PPOConfig(obs_clip=0.0)


@pytest.mark.parametrize(
    "overrides",
    [{"num_env": 8}, ["num_env=8"]],
    ids=["dict", "list"],
)
def test_unknown_override_key_suggests_closest(yaml_file, overrides):
    with raises(ConfigError, r"unknown config key 'num_env' in overrides; did you mean 'num_envs'"):
        load_config(yaml_file(SMALL), overrides)


@pytest.mark.parametrize(
    "key,suggestion",
    [
        ("gama", "gamma"),
        ("totl_timesteps", "total_timesteps"),
        ("normalise_rewards", "normalize_rewards"),
    ],
)
def test_unknown_key_suggestions(yaml_file, key, suggestion):
    with raises(ConfigError, rf"unknown config key '{key}'.*did you mean '{suggestion}'"):
        load_config(yaml_file(SMALL), {key: 1})


def test_unknown_key_without_close_match_still_names_the_key(yaml_file):
    # No known key is close to "learning_rat" for difflib (the field is "lr"); the message
    # must still name the offending key and where it came from.
    with raises(ConfigError, r"unknown config key 'learning_rat' in overrides"):
        load_config(yaml_file(SMALL), {"learning_rat": 1e-3})


def test_unknown_key_in_file_names_the_file(yaml_file):
    path = yaml_file(SMALL + "num_env: 8\n")
    with raises(
        ConfigError, rf"unknown config key 'num_env' in {re.escape(str(path))}.*'num_envs'"
    ):
        load_config(path)


@pytest.mark.parametrize(
    "overrides,pattern",
    [
        ({"num_envs": "four"}, r"num_envs must be an integer, got 'four'"),
        (["num_envs=four"], r"num_envs must be an integer, got 'four'"),
        ({"num_envs": 4.5}, r"num_envs must be an integer"),
        ({"num_envs": True}, r"num_envs must be an integer"),
        ({"lr": "fast"}, r"lr must be a number"),
        ({"anneal_lr": 1}, r"anneal_lr must be true or false"),
        (["anneal_lr=maybe"], r"anneal_lr must be true or false"),
        ({"hidden_sizes": "64,64"}, r"hidden_sizes must be a list of integers"),
        ({"env_id": 3}, r"env_id must be a string"),
        ({"env_kwargs": [1, 2]}, r"env_kwargs must be a mapping"),
    ],
)
def test_wrong_types_raise_config_type_error(yaml_file, overrides, pattern):
    with raises(ConfigTypeError, pattern) as info:
        load_config(yaml_file(SMALL), overrides)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)


def test_out_of_range_via_overrides(yaml_file):
    with raises(ConfigError, r"lr=-1.0 is out of range"):
        load_config(yaml_file(SMALL), ["lr=-1"])
    with raises(ConfigError, r"gamma=1.5 is out of range"):
        load_config(yaml_file(SMALL), {"gamma": 1.5})


def test_missing_config_name_suggests_close_names():
    assert "cartpole" in available_configs()
    with raises(ConfigError, r"config 'cartpol' not found.*did you mean cartpole"):
        load_config("cartpol")


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with raises(ConfigError, rf"config '{re.escape(str(missing))}' not found"):
        load_config(missing)


def test_invalid_yaml_names_file_and_line(yaml_file):
    path = yaml_file("num_envs: 4\n  num_steps: 8\n", name="broken.yaml")
    with raises(ConfigError, rf"invalid YAML in {re.escape(str(path))} at line 2"):
        load_config(path)


def test_yaml_top_level_list(yaml_file):
    path = yaml_file("- num_envs: 4\n- num_steps: 8\n", name="listy.yaml")
    with raises(ConfigError, rf"{re.escape(str(path))} must hold a mapping.*list"):
        load_config(path)


def test_bad_override_syntax(yaml_file):
    with raises(ConfigError, r"override 'num_envs' must look like key=value"):
        load_config(yaml_file(SMALL), ["num_envs"])


# ------------------------------------------------------------------ loading


def test_load_yaml_file_with_defaults_for_absent_keys(yaml_file):
    config = load_config(yaml_file(SMALL))
    assert (config.num_envs, config.num_steps, config.total_timesteps) == (4, 32, 4096)
    assert config.num_minibatches == 2
    assert config.hparams.lr == pytest.approx(1e-3)
    assert config.update_epochs == PPOConfig().update_epochs
    assert config.hparams.gamma == Hyperparams().gamma


def test_empty_yaml_file_gives_defaults(yaml_file):
    assert load_config(yaml_file("# nothing here\n")) == PPOConfig()


def test_load_shipped_cartpole():
    config = load_config("cartpole")
    assert config.env_id == "CartPole-v1"
    assert config.batch_size > 0 and config.num_updates >= 1


@pytest.mark.parametrize("name", available_configs())
def test_every_shipped_config_loads(name):
    config = load_config(name)
    assert config.num_updates >= 1


def test_dict_overrides_are_applied_and_not_mutated(yaml_file):
    overrides = {"num_envs": 8, "lr": 3e-4, "gamma": 0.9, "hidden_sizes": [32, 16]}
    before = copy.deepcopy(overrides)
    config = load_config(yaml_file(SMALL), overrides)
    assert overrides == before
    assert config.num_envs == 8
    assert config.hidden_sizes == (32, 16)
    assert config.hparams.lr == pytest.approx(3e-4)
    assert config.hparams.gamma == pytest.approx(0.9)
    assert not hasattr(config, "lr")  # hyperparameters live only in config.hparams


def test_list_overrides_are_parsed_and_not_mutated(yaml_file):
    overrides = [
        "num_envs=8",
        "lr=3e-4",
        "anneal_lr=false",
        "hidden_sizes=[32, 16]",
        "activation=relu",
        "env_kwargs={max_steps_in_episode: 200}",
        "reference_return=null",
    ]
    before = list(overrides)
    config = load_config(yaml_file(SMALL), overrides)
    assert overrides == before
    assert config.num_envs == 8
    assert config.hparams.lr == pytest.approx(3e-4)
    assert config.anneal_lr is False
    assert config.hidden_sizes == (32, 16)
    assert config.activation == "relu"
    assert config.env_kwargs_dict == {"max_steps_in_episode": 200}
    assert config.reference_return is None


def test_overrides_beat_file_values(yaml_file):
    config = load_config(yaml_file(SMALL), ["num_steps=64", "lr=0.01"])
    assert config.num_steps == 64
    assert config.hparams.lr == pytest.approx(0.01)


@pytest.mark.parametrize(
    "overrides", [["total_timesteps=1e6"], {"total_timesteps": "1e6"}, {"total_timesteps": 1e6}]
)
def test_scientific_notation_for_integers(yaml_file, overrides):
    config = load_config(yaml_file(SMALL), overrides)
    assert config.total_timesteps == 1_000_000
    assert isinstance(config.total_timesteps, int)


def test_scientific_notation_in_yaml_file(yaml_file):
    # YAML 1.1 reads 5e5 and 2.5e-4 (no dot) as strings; the loader accepts numeric strings.
    config = load_config(yaml_file("total_timesteps: 5e5\nlr: 2.5e-4\n"))
    assert config.total_timesteps == 500_000
    assert config.hparams.lr == pytest.approx(2.5e-4)


def test_fractional_integer_string_is_rejected(yaml_file):
    with raises(ConfigTypeError, r"total_timesteps must be an integer"):
        load_config(yaml_file(SMALL), ["total_timesteps=1234.5"])


@pytest.mark.parametrize(
    "override", ["total_timesteps=inf", "num_envs=.nan", "num_steps=1e400", "num_envs=.inf"]
)
def test_non_finite_integer_is_a_config_type_error(yaml_file, override):
    """inf/nan for an integer field must give the one-line config error, not int()'s crash."""
    key = override.partition("=")[0]
    with raises(ConfigTypeError, rf"{key} must be an integer"):
        load_config(yaml_file(SMALL), [override])


# ------------------------------------------------------------------ round trip


@pytest.mark.parametrize(
    "config",
    [
        PPOConfig(),
        PPOConfig(
            env_id="Pendulum-v1",
            env_kwargs={"max_steps_in_episode": 100},
            num_envs=8,
            num_steps=16,
            total_timesteps=12_800,
            num_minibatches=8,
            hidden_sizes=(32, 32, 16),
            activation="relu",
            shared_network=True,
            log_std_init=-0.5,
            anneal_lr=False,
            normalize_observations=True,
            normalize_rewards=True,
            obs_clip=5.0,
            bootstrap_truncated=False,
            hparams=Hyperparams(lr=1e-3, gamma=0.95, target_kl=0.02, ent_coef=0.0),
            reference_return=-200.0,
        ),
    ],
    ids=["defaults", "custom"],
)
def test_config_to_dict_round_trips(config):
    as_dict = config_to_dict(config)
    assert config_from_dict(as_dict) == config
    # YAML-ready: it survives a dump and load too, field for field.
    reloaded = config_from_dict(yaml.safe_load(yaml.safe_dump(as_dict)))
    assert reloaded == config
    assert config_to_dict(reloaded) == as_dict


def test_config_to_dict_is_flat_with_every_key():
    as_dict = config_to_dict(PPOConfig(hparams=Hyperparams(lr=1e-3)))
    assert "hparams" not in as_dict
    assert as_dict["lr"] == pytest.approx(1e-3)
    assert as_dict["hidden_sizes"] == [64, 64]
    assert as_dict["env_kwargs"] == {}
    fields = {f.name for f in dataclasses.fields(PPOConfig)} - {"hparams"}
    hparam_fields = {f.name for f in dataclasses.fields(Hyperparams)}
    assert set(as_dict) == fields | hparam_fields
