"""Small CLI commands that run no training: `--version`, `list configs`, `list envs`."""

from __future__ import annotations

import pytest

import purejaxppo
import purejaxppo.compile_cache
import purejaxppo.loading
from purejaxppo import PPOConfig, available_configs, load_config
from purejaxppo.cli import main
from purejaxppo.envs import registered_env_ids


def test_version_prints_and_exits_before_any_work(monkeypatch, capsys):
    def must_not_run() -> None:
        raise AssertionError("--version went past argument parsing")

    monkeypatch.setattr(purejaxppo.compile_cache, "enable_compile_cache", must_not_run)
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"purejaxppo {purejaxppo.__version__}\n"


def test_list_configs_is_one_aligned_line_per_config(capsys):
    assert main(["list", "configs"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split() == ["CONFIG", "ENV_ID", "TOTAL_TIMESTEPS", "REFERENCE_RETURN"]
    assert [line.split()[0] for line in lines] == available_configs()
    assert len({len(line) for line in [header, *lines]}) == 1  # numbers right-aligned
    for line in lines:
        name, env_id, steps, reference = line.split()
        config = load_config(name)
        assert line.index(env_id) == header.index("ENV_ID")
        assert (env_id, int(steps)) == (config.env_id, config.total_timesteps)
        expected = config.reference_return
        assert reference == ("-" if expected is None else f"{expected:g}")
    cartpole = next(line for line in lines if line.startswith("cartpole "))
    assert "CartPole-v1" in cartpole and cartpole.endswith(" 490")


def test_list_configs_marks_a_missing_reference_return(monkeypatch, capsys):
    monkeypatch.setattr(purejaxppo.loading, "available_configs", lambda: ["mine"])
    monkeypatch.setattr(
        purejaxppo.loading,
        "load_config",
        lambda name: PPOConfig(env_id="Pendulum-v1", total_timesteps=4096),
    )
    assert main(["list", "configs"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["mine", "Pendulum-v1", "4096", "-"]


def test_list_envs_is_every_accepted_id_sorted(capsys):
    assert main(["list", "envs"]) == 0
    *lines, families = capsys.readouterr().out.splitlines()
    assert lines == sorted(registered_env_ids())
    assert {"CartPole-v1", "Pendulum-v1", "Breakout-MinAtar"} <= set(lines)
    assert families.startswith("# other families") and "navix:Navix-Empty-5x5-v0" in families


def test_list_envs_of_a_family_is_its_prefixed_ids_and_an_unknown_family_exits_2(capsys):
    assert main(["list", "envs", "--family", "gymnax"]) == 0
    assert "gymnax:CartPole-v1" in capsys.readouterr().out.splitlines()
    assert main(["list", "envs", "--family", "navx"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did you mean 'navix'" in err and "jumanji" in err


@pytest.mark.parametrize("argv", [["list"], ["list", "runs"]])
def test_list_of_anything_else_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    assert "{configs,envs}" in capsys.readouterr().err
