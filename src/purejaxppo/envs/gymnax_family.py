"""The gymnax family: gymnax 1.x environments follow the protocol as they are."""

from __future__ import annotations

from typing import Any

import gymnax


def env_ids() -> list[str]:
    """gymnax's registered ids (including ones added with `gymnax.registration`)."""
    return list(gymnax.registered_envs)


def make(name: str, **kwargs: Any) -> tuple[Any, Any]:
    """`gymnax.make(name, **kwargs)`: (environment, default params)."""
    return gymnax.make(name, **kwargs)
