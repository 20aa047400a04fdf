"""Networks: the contract a policy-value network follows, the built-in MLP and CNN
actor-critics, and the action distributions (`distributions` is the only module that imports
distrax)."""

from purejaxppo.networks.cnn import CNN, CNNActorCritic
from purejaxppo.networks.contract import (
    NetworkSpec,
    PolicyNetwork,
    build_module,
    check_network,
    network_name,
    network_reference,
)
from purejaxppo.networks.distributions import as_distribution, greedy_action, sample_action
from purejaxppo.networks.initializers import orthogonal
from purejaxppo.networks.mlp import ACTIVATIONS, MLP, ActorCritic, dense, make_network

__all__ = [
    "ACTIVATIONS",
    "CNN",
    "MLP",
    "ActorCritic",
    "CNNActorCritic",
    "NetworkSpec",
    "PolicyNetwork",
    "as_distribution",
    "build_module",
    "check_network",
    "dense",
    "greedy_action",
    "make_network",
    "network_name",
    "network_reference",
    "orthogonal",
    "sample_action",
]
