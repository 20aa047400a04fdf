"""Every shipped config loads; `defaults.yaml` documents exactly the defaults of `PPOConfig`."""

from __future__ import annotations

import pytest
import yaml

from purejaxppo import PPOConfig, available_configs, config_to_dict, load_config
from purejaxppo.cli.sweep_file import read_sweep_file
from purejaxppo.loading import config_dirs
from purejaxppo.sweep_space import expand_space
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


def sweep_settings(sweep: dict) -> list[dict]:
    """Every setting a sweep file trains, as the fields it fixes: its base config updated with
    each setting `purejaxppo.sweep_space.expand_space` makes of its grid or list."""
    return [{**sweep["config"], **s} for s in expand_space(sweep.get("list") or sweep["grid"])]


@pytest.mark.parametrize("game", MINATAR)
def test_minatar_config_is_a_setting_of_one_of_its_shipped_sweeps(game):
    """Each MinAtar config ships with the sweep that found it: some setting of one of the game's
    sweep files (`configs/sweeps/<game>_minatar*.yaml`) holds in the config, every field of it."""
    config = load_config(f"{game}_minatar")
    assert config.total_timesteps == 10_000_000
    values = config_to_dict(config)
    found = [
        path.name
        for path in sorted((config_dirs()[0] / "sweeps").glob(f"{game}_minatar*.yaml"))
        for setting in sweep_settings(read_sweep_file(str(path)))
        if all(values[key] == value for key, value in setting.items())
    ]
    assert found, f"{game}_minatar.yaml is no setting of its sweep files"


def test_every_shipped_sweep_file_reads_and_names_a_minatar_game():
    files = sorted((config_dirs()[0] / "sweeps").glob("*.yaml"))
    assert {f"{game}_minatar.yaml" for game in MINATAR} <= {path.name for path in files}
    for path in files:
        sweep = read_sweep_file(str(path))
        assert sweep["config"]["env_id"].endswith("-MinAtar"), path.name
        assert sweep.get("grid") or sweep.get("list"), path.name
