"""Which config key a user meant: our name for another trainer's name, or the closest spelling."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from typing import Any

from purejaxppo.config import HPARAM_FIELDS, PPOConfig

_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(PPOConfig) if f.name != "hparams")
KNOWN_KEYS: tuple[str, ...] = _CONFIG_FIELDS + HPARAM_FIELDS


# Names other trainers use for our keys, offered as suggestions (never silently accepted).
_OTHER_NAMES = {
    "learning_rate": "lr",
    "clip_coef": "clip_eps",
    "clip_range": "clip_eps",
    "lambda": "gae_lambda",
    "gae_lam": "gae_lambda",
    "ent": "ent_coef",
    "vf": "vf_coef",
    "norm_adv": "normalize_advantages",
    "clip_vloss": "clip_value_loss",
    "env_name": "env_id",
    "env": "env_id",
    "num_epochs": "update_epochs",
    "n_epochs": "update_epochs",
    "n_steps": "num_steps",
    "n_envs": "num_envs",
    "anneal": "anneal_lr",
}


def suggest_key(key: Any, known: Iterable[str] = KNOWN_KEYS) -> str | None:
    """The known key a user most likely meant by `key`: our name for another trainer's name
    (`learning_rate` -> `lr`), else the closest spelling among `known`; None if nothing is close."""
    known = tuple(known)
    alias = _OTHER_NAMES.get(str(key).lower())
    if alias in known:
        return alias
    close = difflib.get_close_matches(str(key), known, n=1)
    return close[0] if close else None


def did_you_mean(key: Any, known: Iterable[str] = KNOWN_KEYS) -> str:
    """`"; did you mean 'lr'?"` for `suggest_key(key, known)`, or "" when nothing is close."""
    close = suggest_key(key, known)
    return f"; did you mean {close!r}?" if close else ""
