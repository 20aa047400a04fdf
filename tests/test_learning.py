"""Learning thresholds on real gymnax environments (each test has a timeout)."""

from __future__ import annotations

import numpy as np
import pytest

from purejaxppo import load_config, train_seeds


@pytest.mark.timeout(400)
def test_cartpole_reaches_450_over_4_seeds():
    """The shipped CartPole config, 5e5 steps per seed: mean final return >= 450."""
    result = train_seeds(load_config("cartpole"), num_seeds=4, seed=0)
    finals = result.final_returns
    assert np.all(np.isfinite(finals))
    assert finals.mean() >= 450, finals


@pytest.mark.timeout(400)
def test_pendulum_learns_with_normalization():
    """Pendulum-v1 (continuous, observation and reward normalization on), 3e5 steps per seed,
    2 seeds: mean final return >= -400 (a random policy scores about -1200; the full 1e6-step
    config reaches about -150)."""
    config = load_config("pendulum", ["total_timesteps=300000"])
    assert config.normalize_observations and config.normalize_rewards
    result = train_seeds(config, num_seeds=2, seed=0)
    assert result.final_returns.mean() >= -400, result.final_returns
