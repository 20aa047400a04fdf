"""Shared fixtures: small configs and compiled training functions, built once per session."""

from __future__ import annotations

import os

import jax
import pytest

import purejaxppo  # noqa: F401 - applies the XLA CPU flag before any JAX computation
from probes import register_probes
from purejaxppo import PPOConfig, make_train

register_probes()
# CLI tests run in this process: keep them off the user's on-disk compile cache (test_compile_cache
# turns it on in a folder of its own).
os.environ.setdefault("PUREJAXPPO_COMPILE_CACHE", "0")


@pytest.fixture(scope="session")
def tiny_config() -> PPOConfig:
    """CartPole with 6 updates of 4 envs x 32 steps: fast to compile and run."""
    return PPOConfig(
        env_id="CartPole-v1",
        num_envs=4,
        num_steps=32,
        total_timesteps=6 * 128,
        update_epochs=2,
        num_minibatches=2,
    )


@pytest.fixture(scope="session")
def tiny_train(tiny_config):
    """The un-jitted `train` of `tiny_config`."""
    return make_train(tiny_config)


@pytest.fixture(scope="session")
def tiny_train_jit(tiny_train):
    """`jax.jit(train)` for a single run, shared by the determinism tests."""
    return jax.jit(tiny_train)


@pytest.fixture(scope="session")
def tiny_train_vmap(tiny_train):
    """`jax.jit(jax.vmap(train, in_axes=(0, None)))` shared by the seed tests."""
    return jax.jit(jax.vmap(tiny_train, in_axes=(0, None)))


# The slowest modules first: with `-n 2 --dist loadfile` a worker takes whole modules in
# collection order, so a long module collected last would leave the other worker idle at the end.
_SLOW_MODULES_FIRST = (
    "test_notebooks",
    "test_learning",
    "test_family_craftax",
    "test_search_pbt",
    "test_distributed",
    "test_resume",
    "test_family_jumanji",
    "test_sharding",
    "test_xla_flags",
    "test_compile_cache",
    "test_interrupt",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.path.stem
        return _SLOW_MODULES_FIRST.index(module) if module in _SLOW_MODULES_FIRST else 99

    items.sort(key=rank)  # stable: the order inside each module is kept
