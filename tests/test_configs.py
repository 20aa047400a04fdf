"""Every shipped config loads; `defaults.yaml` documents exactly the defaults of `PPOConfig`."""

from __future__ import annotations

import pytest
import yaml

from purejaxppo import PPOConfig, available_configs, config_to_dict, load_config
from purejaxppo.cli.sweep_file import read_sweep_file
from purejaxppo.loading import config_dirs
from purejaxppo.train import make_train

REQUIRED = {
    "cartpole",
    "acrobot",
    "pendulum",
    "mountaincar_continuous",
    "breakout_minatar",
    "asterix_minatar",
    "freeway_minatar",
    "spaceinvaders_minatar",
}
MINATAR = ["asterix", "breakout", "freeway", "seaquest", "spaceinvaders"]


def test_required_configs_ship():
    assert set(available_configs()) >= REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_config_loads_and_builds(name):
    config = load_config(name)
    assert config.num_updates >= 1
    text = (config_dirs()[0] / f"{name}.yaml").read_text()
    assert "Budget" in text  # each config states its budget ...
    assert config.reference_return is not None  # ... and the return it is expected to reach
    make_train(config)  # the environment exists and the options fit its action space


def test_defaults_yaml_matches_ppoconfig():
    data = yaml.safe_load((config_dirs()[0] / "defaults.yaml").read_text())
    expected = config_to_dict(PPOConfig())
    assert set(data) == set(expected)
    for key, value in expected.items():
        assert (
            data[key] == pytest.approx(value) if isinstance(value, float) else data[key] == value
        ), key


def test_every_default_key_has_a_comment():
    for line in (config_dirs()[0] / "defaults.yaml").read_text().splitlines():
        if line and not line.startswith("#") and ":" in line:
            assert "#" in line, line


@pytest.mark.parametrize("game", MINATAR)
def test_minatar_config_is_a_setting_of_its_shipped_sweep(game):
    """Each MinAtar config ships with the sweep that found it: the sweep's base keys hold in the
    config and every swept field's value in the config is one of the sweep's grid values."""
    config = load_config(f"{game}_minatar")
    sweep = read_sweep_file(str(config_dirs()[0] / "sweeps" / f"{game}_minatar.yaml"))
    assert config.total_timesteps == 10_000_000
    values = config_to_dict(config)
    for key, value in sweep["config"].items():
        assert values[key] == value, key
    assert sweep["grid"]
    for key, choices in sweep["grid"].items():
        assert values[key] in choices, key


def test_every_shipped_sweep_file_reads_and_names_a_minatar_game():
    files = sorted((config_dirs()[0] / "sweeps").glob("*.yaml"))
    assert {f"{game}_minatar.yaml" for game in MINATAR} <= {path.name for path in files}
    for path in files:
        sweep = read_sweep_file(str(path))
        assert sweep["config"]["env_id"].endswith("-MinAtar"), path.name
        assert sweep.get("grid") or sweep.get("list"), path.name
