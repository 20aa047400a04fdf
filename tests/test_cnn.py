"""`encoder: cnn`: the conv encoder's shapes, the MLP path unchanged, Breakout-MinAtar learned
above a random policy, a GRU over grids, and one-line errors for every bad setting."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo import ConfigError, PPOConfig, load_config, make_train
from purejaxppo.cli import main
from purejaxppo.config import ConfigTypeError
from purejaxppo.evaluate import make_evaluate
from purejaxppo.loading import config_from_dict, config_to_dict
from purejaxppo.networks import CNN, CNNActorCritic, NetworkSpec, PolicyNetwork, check_network
from purejaxppo.networks.cnn import SameConv
from purejaxppo.parallel import seed_keys

# Breakout-MinAtar, small: 8 envs x 32 steps per update
GRID = PPOConfig(
    env_id="Breakout-MinAtar",
    encoder="cnn",
    cnn_channels=(8, 16),
    hidden_sizes=(32,),
    activation="relu",
    num_envs=8,
    num_steps=32,
    total_timesteps=2 * 256,
    update_epochs=1,
    num_minibatches=2,
)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("shared", [False, True], ids=["separate", "shared"])
def test_cnn_shapes_on_10x10_grids(shared):
    obs = jnp.ones((5, 10, 10, 4))
    cnn = CNN(((16, 3, 1), (32, 3, 2)), "relu")
    features, _ = cnn.init_with_output(jax.random.PRNGKey(0), obs)
    assert features.shape == (5, 5 * 5 * 32)  # SAME padding: 10 -> 10 -> 5
    time_major = cnn.apply(cnn.init(jax.random.PRNGKey(0), obs), obs.reshape(1, 5, 10, 10, 4))
    np.testing.assert_array_equal(time_major[0], features)  # [T, B] folded and back, same rows

    module = CNNActorCritic(action_size=3, discrete=True, hidden_sizes=(32,), shared=shared)
    params = module.init(jax.random.PRNGKey(1), obs[:1])
    logits, value = module.apply(params, obs)
    assert logits.shape == (5, 3) and value.shape == (5,)
    cnns = [k for k in params["params"] if "cnn" in k.lower()]
    assert len(cnns) == (1 if shared else 2)  # separate actor and critic have their own CNN
    spec = NetworkSpec((10, 10, 4), 3, True)
    check_network(PolicyNetwork(module, spec), "CNNActorCritic")  # the network contract holds


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "shape,kernel,stride",
    [
        ((10, 10, 4), 3, 1),
        ((10, 10, 16), 3, 2),
        ((7, 9, 3), 5, 2),
        ((5, 6, 2), 2, 3),
        ((1, 1, 2), 3, 2),
    ],
)
def test_same_conv_equals_flax_conv_with_the_same_parameters(shape, kernel, stride):
    """SameConv computes nn.Conv(padding="SAME") from nn.Conv's own parameter tree, also under
    vmap over runs that each have their own kernel (where it avoids grouped convolutions)."""
    x = jax.random.normal(jax.random.PRNGKey(0), (6, *shape))
    ours = SameConv(8, kernel, stride)
    flax_conv = nn.Conv(8, (kernel, kernel), strides=(stride, stride), padding="SAME")
    params = ours.init(jax.random.PRNGKey(1), x)
    reference = flax_conv.init(jax.random.PRNGKey(1), x)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, reference)
    params = jax.tree.map(lambda p: p + 0.1, params)  # a nonzero bias too
    out = ours.apply(params, x)
    np.testing.assert_allclose(out, flax_conv.apply(params, x), rtol=2e-5, atol=2e-5)
    runs = jax.vmap(lambda k: jax.tree.map(lambda p: p * k, params))(jnp.arange(1.0, 4.0))
    batched = jax.jit(jax.vmap(ours.apply, in_axes=(0, None)))(runs, x)
    for r in range(3):
        one = flax_conv.apply(jax.tree.map(lambda p, r=r: p[r], runs), x)
        np.testing.assert_allclose(batched[r], one, rtol=2e-5, atol=2e-5)


@pytest.mark.timeout(120)
def test_encoder_mlp_is_the_default_and_ignores_the_cnn_sizes():
    config = PPOConfig(num_envs=4, num_steps=16, total_timesteps=128, num_minibatches=2)
    explicit = config.replace(
        encoder="mlp", cnn_channels=(3,), cnn_kernel_sizes=(5,), cnn_strides=(2,)
    )
    outs = [jax.jit(make_train(c))(jax.random.PRNGKey(3), c.hparams) for c in (config, explicit)]
    for a, b in zip(jax.tree.leaves(outs[0]), jax.tree.leaves(outs[1]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # the MLP's parameter names (and so its init draws) are those from before the CNN existed
    params = make_train(config).network.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)))
    assert sorted(params["params"]) == ["Dense_0", "Dense_1", "actor", "critic"]
    shared = make_train(config.replace(shared_network=True)).network
    assert "MLP_0" in shared.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)))["params"]


@pytest.mark.timeout(240)
def test_cnn_learns_breakout_above_a_random_policy():
    config = GRID.replace(
        num_envs=16,
        num_steps=64,
        total_timesteps=100 * 1024,
        update_epochs=2,
        num_minibatches=4,
        lr=1e-3,
    )
    train = make_train(config)
    evaluate = jax.jit(make_evaluate(config, 64, deterministic=False))
    key = jax.random.PRNGKey(0)
    untrained = train.init(key, config.hparams)
    random_return = float(evaluate(untrained.params, untrained.obs_stats, key).returns.mean())
    state = jax.jit(train)(key, config.hparams).runner_state
    trained_return = float(evaluate(state.params, state.obs_stats, key).returns.mean())
    # the untrained policy (logits ~0: uniform) scores about 0.5 per episode
    assert trained_return > 2.0 * random_return + 0.5, (random_return, trained_return)


@pytest.mark.timeout(180)
def test_gru_over_grids_runs_under_jit_vmap():
    config = GRID.replace(recurrent="gru", recurrent_size=16, total_timesteps=256)
    train = make_train(config)
    out = jax.jit(jax.vmap(train, in_axes=(0, None)))(seed_keys(0, 2), config.hparams)
    assert out.metrics.policy_loss.shape == (2, 1)
    assert np.all(np.isfinite(np.asarray(out.metrics.policy_loss)))
    names = set(jax.tree.map(lambda x: x[0], out.runner_state.params)["params"])
    assert {"actor_cnn", "critic_cnn", "actor_encoder", "critic_encoder"} <= names


@pytest.mark.timeout(30)
def test_cnn_sizes_from_yaml_and_set_coerce_like_hidden_sizes():
    sets = ["cnn_channels=[8, 16, 32]", "cnn_kernel_sizes=[5, 3, 3]", "cnn_strides=[1, 1, 2]"]
    config = load_config("cartpole", sets)
    assert (config.cnn_channels, config.cnn_kernel_sizes, config.cnn_strides) == (
        (8, 16, 32),
        (5, 3, 3),
        (1, 1, 2),
    )
    assert config_from_dict(config_to_dict(config)) == config
    assert config_to_dict(PPOConfig())["cnn_channels"] == [16, 32]
    one = config_from_dict({"cnn_strides": 1, "cnn_channels": 8, "cnn_kernel_sizes": 3})
    assert (one.cnn_channels, one.cnn_kernel_sizes, one.cnn_strides) == ((8,), (3,), (1,))
    with pytest.raises(ConfigTypeError, match=r"^cnn_channels must be a list of integers"):
        config_from_dict({"cnn_channels": "16,32"})


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "changes, message",
    [
        ({"encoder": "cnnn"}, "encoder must be one of mlp, cnn, got 'cnnn'; did you mean 'cnn'?"),
        ({"cnn_channels": (16, 32, 64)}, "must have one entry per conv layer"),
        ({"cnn_kernel_sizes": (3, 0)}, "cnn_kernel_sizes must be a non-empty list of positive"),
        ({"cnn_strides": (-1, 1)}, "cnn_strides must be a non-empty list of positive integers"),
        ({"cnn_channels": ()}, "cnn_channels must be a non-empty list"),
    ],
)
def test_bad_cnn_settings_are_one_line_config_errors(changes, message):
    with pytest.raises(ConfigError) as error:
        PPOConfig(**changes)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.timeout(60)
def test_cnn_on_flat_observations_or_your_network_is_a_one_line_error():
    with pytest.raises(ConfigError) as error:
        make_train(PPOConfig(encoder="cnn"))
    text = str(error.value)
    assert "encoder: cnn needs [H, W, C] observations, but CartPole-v1 gives [4]" in text
    assert "use encoder: mlp" in text and "\n" not in text
    with pytest.raises(ConfigError, match="applies to the built-in network only"):
        make_train(GRID.replace(network=CNNActorCritic(action_size=3, discrete=True)))


@pytest.mark.timeout(120)
def test_cli_cnn_on_cartpole_exits_2_with_one_line(tmp_path, capsys):
    out = tmp_path / "r"
    code = main(["train", "--quiet", "--out", str(out), "--set", "encoder=cnn"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "needs [H, W, C] observations" in err[-1], err
    assert "CartPole-v1 gives [4]" in err[-1] and not out.exists()
    assert main(["train", "--quiet", "--out", str(out), "--set", "cnn_strides=[1]"]) == 2
    assert "one entry per conv layer" in capsys.readouterr().err
