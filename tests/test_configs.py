"""Every shipped config loads; `defaults.yaml` documents exactly the defaults of `PPOConfig`."""

from __future__ import annotations

import pytest
import yaml

from purejaxppo import PPOConfig, available_configs, config_to_dict, load_config
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
