"""Adaptive search on the run axis: population-based training, successive halving and batched
Optuna, all on the population machinery of `search.population` (one compiled program)."""

from purejaxppo.search.halving import HalvingResult, successive_halving
from purejaxppo.search.optuna_search import OptunaResult, optuna_search
from purejaxppo.search.pbt import PBTOptions, PBTResult, pbt
from purejaxppo.search.population import PopulationRun, PopulationState, train_population
from purejaxppo.search.replay import replay_schedule

__all__ = [
    "HalvingResult",
    "OptunaResult",
    "PBTOptions",
    "PBTResult",
    "PopulationRun",
    "PopulationState",
    "optuna_search",
    "pbt",
    "replay_schedule",
    "successive_halving",
    "train_population",
]
