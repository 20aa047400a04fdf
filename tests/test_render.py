"""`purejaxppo render`: a GIF of one episode for an environment gymnax can draw, a clear error
for one it cannot."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from purejaxppo import ConfigError, PPOConfig
from purejaxppo.cli import main
from purejaxppo.io.files import write_config_yaml
from purejaxppo.io.render import check_drawable
from purejaxppo.loading import config_to_dict
from test_eval import shared_run

pytestmark = pytest.mark.timeout(240)


def test_render_writes_a_gif_of_the_episode(tmp_path_factory, tmp_path, capsys):
    from PIL import Image

    run = shared_run(tmp_path_factory)
    out = tmp_path / "clips" / "episode.gif"
    code = main(["render", str(run), "--seed", "1", "--out", str(out), "--max-steps", "30"])
    assert code == 0
    assert out.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    with Image.open(out) as gif:
        assert gif.n_frames == 30 and gif.size[0] > 100  # a converged policy lasts 30 steps
    assert "30 steps, return 30.0" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["episode.gif"]  # no temporary left


def test_render_refuses_an_environment_gymnax_cannot_draw(tmp_path, capsys):
    run = tmp_path / "run"
    write_config_yaml(run / "config.yaml", config_to_dict(PPOConfig(env_id="DeepSea-bsuite")))
    assert main(["render", str(run), "--out", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cannot render DeepSea-bsuite"), err
    assert not (tmp_path / "x.gif").exists()


def test_render_of_an_unknown_seed(tmp_path_factory, tmp_path, capsys):
    run = shared_run(tmp_path_factory)
    assert main(["render", str(run), "--seed", "7", "--out", str(tmp_path / "x.gif")]) == 2
    assert "seed 7 is not in this run" in capsys.readouterr().err


BLOCK_PYGAME = "import sys\nsys.modules['pygame'] = None  # as if pygame were not installed\n"


@pytest.mark.timeout(120)
def test_render_without_pygame_is_one_line_and_writes_nothing(tmp_path):
    """A default install has no pygame: one `error:` line naming the extra, exit 2, no output."""
    (tmp_path / "block").mkdir()
    (tmp_path / "block" / "sitecustomize.py").write_text(BLOCK_PYGAME)
    run = tmp_path / "run"
    write_config_yaml(run / "config.yaml", config_to_dict(PPOConfig(env_id="CartPole-v1")))
    out = tmp_path / "clips" / "episode.gif"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(tmp_path / "block"), env.get("PYTHONPATH", "")) if p
    )
    done = subprocess.run(
        [sys.executable, "-m", "purejaxppo.cli", "render", str(run), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=110,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: rendering CartPole-v1 needs pygame")
    assert 'pip install "purejaxppo[render]"' in lines[0]
    assert not out.parent.exists()


def test_only_classic_control_needs_pygame(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygame", None)
    with pytest.raises(ConfigError, match=r"needs pygame: pip install \"purejaxppo\[render\]\""):
        check_drawable("Pendulum-v1")
    check_drawable("Breakout-MinAtar")  # drawn with matplotlib alone
