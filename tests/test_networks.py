"""The network contract: your own flax module trains, a broken one fails in one line at
`make_train`, and the built-in MLP goes through the same path with the same bits."""

from __future__ import annotations

import re
import warnings

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import user_networks
from purejaxppo import ConfigError, PPOConfig, config_to_dict, load_config, make_train, train_seeds
from purejaxppo.config import ACTIVATIONS
from purejaxppo.loading import config_from_dict
from purejaxppo.networks import ACTIVATIONS as ACTIVATION_FUNCTIONS
from purejaxppo.networks import ActorCritic, NetworkSpec
from purejaxppo.parallel import seed_keys

pytestmark = pytest.mark.timeout(300)

TINY = PPOConfig(num_envs=4, num_steps=32, total_timesteps=4 * 128, update_epochs=1)


def test_every_activation_name_has_a_function():
    assert set(ACTIVATIONS) == set(ACTIVATION_FUNCTIONS)
    x = jnp.linspace(-2.0, 2.0, 5)
    for name, fn in ACTIVATION_FUNCTIONS.items():
        assert np.all(np.isfinite(np.asarray(fn(x)))), name
    assert float(ACTIVATION_FUNCTIONS["leaky_relu"](jnp.float32(-1.0))) == pytest.approx(-0.01)
    assert ACTIVATION_FUNCTIONS["swish"] is ACTIVATION_FUNCTIONS["silu"]


def test_the_builtin_network_through_the_user_path_gives_the_same_bits():
    """No special path for built-ins: passing an equal ActorCritic as a user module (which the
    trainer checks and flattens batches for) trains to identical numbers."""
    module = ActorCritic(action_size=2, discrete=True, activation="gelu")
    config = TINY.replace(activation="gelu")
    own = jax.jit(make_train(config))(jax.random.PRNGKey(3), config.hparams)
    user = jax.jit(make_train(config, network=module))(jax.random.PRNGKey(3), config.hparams)
    for a, b in zip(jax.tree.leaves(own), jax.tree.leaves(user), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    "network, kwargs",
    [
        (user_networks.SharedTrunk(action_size=2), {}),  # an instance
        (user_networks.SharedTrunk, {"width": 16}),  # a class: action_size filled in
        (user_networks.make_shared, {"width": 16}),  # a factory(spec, **kwargs)
        ("user_networks:make_shared", {"width": 16}),  # an import reference
    ],
    ids=["instance", "class", "factory", "reference"],
)
def test_four_ways_to_name_a_network(network, kwargs):
    train = make_train(TINY.replace(network=network, network_kwargs=kwargs))
    params = train.network.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)))
    assert "LayerNorm_0" in params["params"]
    dist, value = train.network.apply(params, jnp.zeros((3, 4)))
    assert dist.logits.shape == (3, 2) and value.shape == (3,)
    dist, value = train.network.apply(params, jnp.zeros((4,)))  # one observation, no batch axis
    assert dist.logits.shape == (2,) and value.shape == ()


def test_a_continuous_user_network_with_state_dependent_log_std():
    config = TINY.replace(env_id="Pendulum-v1", network=user_networks.GaussianNet)
    out = jax.jit(make_train(config))(jax.random.PRNGKey(0), config.hparams)
    assert np.all(np.isfinite(np.asarray(out.metrics.policy_loss)))


@pytest.mark.parametrize(
    "network, message",
    [
        (user_networks.ValueOnly(), r"must return \(policy, value\)"),
        (user_networks.WrongLogits(), r"policy output shaped \[2, 3\]; for 2 discrete actions it "),
        (user_networks.ColumnValue, r"returned a value shaped \[2, 1\]; it must be \[2\]"),
        (user_networks.Crashes(), r"network Crashes on observations float32\[2, 4\] failed: "),
        ("user_networks:Nope", r"user_networks has no attribute 'Nope'"),
        ("no_such_module_xyz:Net", r"no module named 'no_such_module_xyz'"),
        ("user_networks.SharedTrunk", r"must look like package.module:attribute"),
        (42, r"network must be 'package.module:attribute', a flax Module or a factory"),
    ],
    ids=["no-tuple", "logits", "value", "crash", "attribute", "module", "syntax", "type"],
)
def test_a_broken_network_is_one_line_at_make_train(network, message):
    with pytest.raises(ConfigError, match=message) as info:
        make_train(TINY.replace(network=network))
    assert "\n" not in str(info.value)


def test_continuous_contract_is_checked():
    with pytest.raises(ConfigError, match=r"for 1 continuous action dimensions it must be \(mean"):
        make_train(TINY.replace(env_id="Pendulum-v1", network=user_networks.WrongLogits()))


def test_jax_orthogonal_init_warns_and_ours_does_not():
    with pytest.warns(UserWarning, match="purejaxppo.networks.orthogonal"):
        make_train(TINY.replace(network=user_networks.JaxOrthogonal))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_train(TINY.replace(network=user_networks.SharedTrunk))


def test_network_in_a_config_file_round_trips():
    config = load_config(
        "cartpole", ["network=user_networks:SharedTrunk", "network_kwargs={width: 8}"]
    )
    assert config.network == "user_networks:SharedTrunk" and config.network_kwargs == (
        ("width", 8),
    )
    assert config_from_dict(config_to_dict(config)) == config
    # an importable object is written as its reference
    as_object = config.replace(network=user_networks.SharedTrunk)
    assert config_to_dict(as_object)["network"] == "user_networks:SharedTrunk"


def test_a_python_only_network_is_named_and_refused_when_read_back():
    class Local(nn.Module):
        @nn.compact
        def __call__(self, obs):
            return nn.Dense(2)(obs), nn.Dense(1)(obs)[:, 0]

    written = config_to_dict(TINY.replace(network=Local()))
    assert written["network"] == "python:Local"
    with pytest.raises(
        ConfigError, match=r"\(Local\) was given as a Python object.*network=\.\.\."
    ):
        config_from_dict(written)


def test_log_std_init_is_for_the_builtin_network_only():
    with pytest.raises(ConfigError, match="log_std_init applies to the built-in network only"):
        PPOConfig(env_id="Pendulum-v1", network=user_networks.GaussianNet, log_std_init=-1.0)


def test_factory_receives_the_spec():
    seen = []

    def factory(spec: NetworkSpec, **kwargs):
        seen.append((spec, kwargs))
        return user_networks.SharedTrunk(action_size=spec.action_size)

    make_train(TINY.replace(network=factory, network_kwargs={}, hidden_sizes=(8,)))
    spec = seen[0][0]
    assert (spec.obs_shape, spec.action_size, spec.discrete, spec.hidden_sizes) == (
        (4,),
        2,
        True,
        (8,),
    )


def test_vmap_over_seeds_equals_single_runs_with_a_user_network():
    config = TINY.replace(network=user_networks.SharedTrunk)
    train = make_train(config)
    batch = jax.jit(jax.vmap(train, in_axes=(0, None)))(seed_keys(0, 2), config.hparams)
    for i in range(2):
        alone = jax.jit(train)(seed_keys(0, 2)[i], config.hparams)
        np.testing.assert_allclose(
            np.asarray(batch.metrics.value_loss[i]), np.asarray(alone.metrics.value_loss), rtol=1e-4
        )


@pytest.mark.timeout(400)
def test_a_user_network_learns_cartpole():
    """SharedTrunk (GELU + LayerNorm, one trunk) on the shipped CartPole config with lr 1e-3
    at 2e5 steps, 2 seeds: mean final return >= 400 (measured: 497-500 over 4 seeds; random
    play scores about 20)."""
    overrides = ["total_timesteps=200000", "lr=1e-3", "network=user_networks:SharedTrunk"]
    result = train_seeds(load_config("cartpole", overrides), num_seeds=2, seed=0)
    assert result.final_returns.mean() >= 400, result.final_returns


def test_errors_mention_the_network_by_name():
    with pytest.raises(ConfigError) as info:
        make_train(TINY.replace(network=user_networks.WrongLogits()))
    assert re.match(r"network WrongLogits on observations", str(info.value))


def test_load_policy_takes_the_network_object_a_run_was_trained_with(tmp_path):
    """A run trained from Python with a network object: config.yaml names it python:<Name>;
    load_policy(..., network=) rebuilds the policy, and the actions are those of the params."""
    from purejaxppo.driver import train_chunked
    from purejaxppo.export import load_policy
    from purejaxppo.io.checkpoint import CheckpointStore
    from purejaxppo.io.files import write_config_yaml

    net = user_networks.SharedTrunk(action_size=2, width=8)
    config = TINY.replace(network=net)
    result = train_chunked(config, 1, 0)
    write_config_yaml(tmp_path / "config.yaml", config_to_dict(config))
    store = CheckpointStore(tmp_path / "checkpoints")
    store.save(result.runner_state, {"seed": 0, "num_seeds": 1, "config": config_to_dict(config)})
    store.close()
    with pytest.raises(ConfigError, match="was given as a Python object"):
        load_policy(tmp_path, deterministic=True)
    policy = load_policy(tmp_path, deterministic=True, network=net)
    obs = jnp.linspace(-1, 1, 12).reshape(3, 4)
    params = jax.tree.map(lambda x: x[0], result.runner_state.params)
    expected = jnp.argmax(net.apply(params, obs)[0], axis=-1)
    np.testing.assert_array_equal(np.asarray(policy(obs)), np.asarray(expected))


def test_train_seeds_sweep_and_the_driver_take_network_too():
    from purejaxppo import sweep
    from purejaxppo.driver import train_chunked

    net = user_networks.SharedTrunk(action_size=2, width=8)
    a = train_seeds(TINY, 2, network=net)
    b = train_chunked(TINY, 2, network=net)
    c = sweep(TINY, {"lr": [2.5e-4]}, num_seeds=2, network=net)
    assert a.config.network is net and c.configs[0].network is net
    for name in ("policy_loss", "value_loss"):
        np.testing.assert_array_equal(a.metrics[name], b.metrics[name])
        np.testing.assert_allclose(c.metrics[0][name], a.metrics[name], rtol=1e-4, atol=1e-6)
