"""The network a config asks for: built-in MLP, built-in recurrent, or your own module."""

from __future__ import annotations

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.networks.contract import (
    NetworkSpec,
    PolicyNetwork,
    build_module,
    check_network,
    network_name,
)
from purejaxppo.networks.mlp import make_network
from purejaxppo.networks.recurrent import RecurrentPolicy, make_recurrent_network


def policy_network(config: PPOConfig, spec: NetworkSpec) -> PolicyNetwork | RecurrentPolicy:
    """The config's network: the built-in recurrent actor-critic if `config.recurrent` is set,
    else `config.network` checked against the contract of `purejaxppo.networks.contract`
    before anything compiles, else the built-in MLP actor-critic.

    Raises:
        ConfigError: the network cannot be built or returns the wrong structure or shapes.
    """
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
        )
    if config.network is None:
        module = make_network(
            spec.action_size,
            spec.discrete,
            spec.obs_shape,
            config.hidden_sizes,
            config.activation,
            config.shared_network,
            log_std_init=config.log_std_init or 0.0,
        )
        return PolicyNetwork(module, spec, flatten_batch=False)
    module = build_module(config.network, spec, config.network_kwargs_dict)
    network = PolicyNetwork(module, spec)
    check_network(network, network_name(config.network))
    return network
