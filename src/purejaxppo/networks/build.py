"""The network a config asks for: built-in MLP or CNN, built-in recurrent, or your own module."""

from __future__ import annotations

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.networks.cnn import CNNActorCritic, ConvLayers, conv_layers
from purejaxppo.networks.contract import (
    NetworkSpec,
    PolicyNetwork,
    build_module,
    check_network,
    network_name,
)
from purejaxppo.networks.mlp import ActorCritic
from purejaxppo.networks.recurrent import RecurrentPolicy, make_recurrent_network


def policy_network(config: PPOConfig, spec: NetworkSpec) -> PolicyNetwork | RecurrentPolicy:
    """The config's network: the built-in recurrent actor-critic if `config.recurrent` is set,
    else `config.network` checked against the contract of `purejaxppo.networks.contract`
    before anything compiles, else the built-in actor-critic (MLP, or CNN + MLP if
    `config.encoder` is cnn). Each maps observations `[batch, *spec.obs_shape]` to (logits
    `[batch, n]` or `(mean, log_std)`, value `[batch]`); the recurrent one takes `[T, B, ...]`.

    Raises:
        ConfigError: the network cannot be built or returns the wrong structure or shapes.
    """
    conv = encoder_layers(config, spec)
    if config.recurrent != "none":
        if config.network is not None:
            raise ConfigError(
                "recurrent applies to the built-in network; for your own network leave "
                "recurrent: none (a recurrent network of your own is not supported yet)"
            )
        return make_recurrent_network(
            spec,
            config.recurrent,
            config.recurrent_size,
            config.shared_network,
            log_std_init=config.log_std_init or 0.0,
            conv=conv,
        )
    if config.network is None:
        fields = dict(
            action_size=spec.action_size,
            discrete=spec.discrete,
            hidden_sizes=tuple(config.hidden_sizes),
            activation=config.activation,
            shared=config.shared_network,
            log_std_init=config.log_std_init or 0.0,
        )
        if conv:  # the same actor-critic, its trunks starting with the conv layers
            module = CNNActorCritic(**fields, obs_rank=3, conv=conv)
        else:
            module = ActorCritic(**fields, obs_rank=len(spec.obs_shape))
        return PolicyNetwork(module, spec, flatten_batch=False)
    module = build_module(config.network, spec, config.network_kwargs_dict)
    network = PolicyNetwork(module, spec)
    check_network(network, network_name(config.network))
    return network


def encoder_layers(config: PPOConfig, spec: NetworkSpec) -> ConvLayers:
    """The conv layers `(channels, kernel, stride)` of `encoder: cnn`; `()` for `encoder: mlp`.

    Raises:
        ConfigError: `encoder: cnn` with your own network, or on observations not `[H, W, C]`.
    """
    if config.encoder == "mlp":
        return ()
    if config.network is not None:
        raise ConfigError(
            f"encoder: {config.encoder} applies to the built-in network only; your network "
            "reads the observation itself: remove encoder"
        )
    if len(spec.obs_shape) != 3:
        shape = ", ".join(str(d) for d in spec.obs_shape)
        raise ConfigError(
            f"encoder: cnn needs [H, W, C] observations, but {config.env_id} gives [{shape}]: "
            "use encoder: mlp (the default) for flat observations"
        )
    return conv_layers(config.cnn_channels, config.cnn_kernel_sizes, config.cnn_strides)
