"""purejaxppo: PPO as one pure, jit-compiled JAX function, vmapped over seeds and hyperparameters."""

from purejaxppo._xla import apply_cpu_scheduler_fix as _apply_cpu_scheduler_fix

_apply_cpu_scheduler_fix()  # must run before JAX starts its CPU backend

from purejaxppo.compile_cache import enable_compile_cache  # noqa: E402
from purejaxppo.config import ConfigError, Hyperparams, PPOConfig  # noqa: E402
from purejaxppo.envs import register_env  # noqa: E402
from purejaxppo.export import load_policy, load_run  # noqa: E402
from purejaxppo.loading import available_configs, config_to_dict, load_config  # noqa: E402
from purejaxppo.parallel import TrainResult, train_seeds  # noqa: E402
from purejaxppo.rerun import rerun  # noqa: E402
from purejaxppo.search import optuna_search, pbt, successive_halving  # noqa: E402
from purejaxppo.sweep import LogUniform, SweepResult, Uniform, sweep  # noqa: E402
from purejaxppo.train import make_train  # noqa: E402
from purejaxppo.types import Metrics, RunnerState, TrainOutput, Transition  # noqa: E402

__all__ = [
    "ConfigError",
    "Hyperparams",
    "Metrics",
    "PPOConfig",
    "LogUniform",
    "RunnerState",
    "SweepResult",
    "TrainOutput",
    "TrainResult",
    "Transition",
    "Uniform",
    "available_configs",
    "config_to_dict",
    "enable_compile_cache",
    "load_config",
    "load_policy",
    "load_run",
    "make_train",
    "optuna_search",
    "pbt",
    "register_env",
    "rerun",
    "successive_halving",
    "sweep",
    "train_seeds",
]
__version__ = "0.1.0"
