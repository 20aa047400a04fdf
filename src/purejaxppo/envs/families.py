"""Environment families: an id `family:name` goes to that family's adapter module, imported
only when the family is used; a bare id is gymnax's (or one of `register_env`'s)."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable
from typing import Any

from purejaxppo.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Family:
    """One family: its adapter module (with `env_ids()` and `make(name, **kwargs)`), the
    package the adapter needs, and the pip extra that installs it."""

    name: str
    adapter: str
    package: str
    extra: str | None
    example: str


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("gymnax", "purejaxppo.envs.gymnax_family", "gymnax", None, "CartPole-v1"),
        Family("brax", "purejaxppo.envs.brax_family", "brax", "brax", "brax:inverted_pendulum"),
        Family(
            "navix", "purejaxppo.envs.navix_family", "navix", "navix", "navix:Navix-Empty-5x5-v0"
        ),
        Family(
            "craftax",
            "purejaxppo.envs.craftax_family",
            "craftax",
            "craftax",
            "craftax:Craftax-Classic-Symbolic-v1",
        ),
        Family(
            "jumanji", "purejaxppo.envs.jumanji_family", "jumanji", "jumanji", "jumanji:Snake-v1"
        ),
        Family(
            "xminigrid",
            "purejaxppo.envs.xminigrid_family",
            "xminigrid",
            "xminigrid",
            "xminigrid:MiniGrid-Empty-6x6",
        ),
    )
}


def split_id(env_id: str) -> tuple[str | None, str]:
    """`"navix:Navix-Empty-5x5-v0"` -> `("navix", "Navix-Empty-5x5-v0")`; a bare id -> `(None, id)`.

    Raises:
        ConfigError: an unknown family prefix (the families are listed).
    """
    if ":" not in env_id:
        return None, env_id
    family, name = env_id.split(":", 1)
    if family not in FAMILIES:
        close = difflib.get_close_matches(family, list(FAMILIES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown environment family {family!r} in {env_id!r}; {hint}families: "
            f"{', '.join(FAMILIES)} (a bare id is gymnax's)"
        )
    return family, name


def adapter(family: str) -> Any:
    """The family's adapter module, imported now.

    Raises:
        ConfigError: the family's package is not installed (naming the pip command).
    """
    spec = FAMILIES[family]
    try:
        return importlib.import_module(spec.adapter)
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if missing and missing != "purejaxppo":
            raise ConfigError(
                f"the {family} family needs the {spec.package} package ({missing} is not "
                f'installed): pip install "purejaxppo[{spec.extra}]"'
            ) from None
        raise


def family_ids(family: str) -> list[str]:
    """The ids a family knows, each with its `family:` prefix."""
    return [f"{family}:{name}" for name in adapter(family).env_ids()]


def make_in_family(family: str, name: str, env_kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """Makes `name` of `family` through its adapter: (protocol environment, its params).

    Raises:
        ConfigError: an id the family does not know (with close matches from its registry),
            or keyword arguments its constructor rejects.
    """
    module = adapter(family)
    known = list(module.env_ids())
    if name not in known:
        close = difflib.get_close_matches(name, known, n=4, cutoff=0.4)
        hint = f"; close ids: {', '.join(f'{family}:{c}' for c in close)}" if close else ""
        raise ConfigError(
            f"unknown {family} environment {name!r}{hint} (`purejaxppo list envs --family "
            f"{family}` lists them)"
        )
    make: Callable[..., tuple[Any, Any]] = module.make
    try:
        return make(name, **env_kwargs)
    except TypeError as error:
        raise ConfigError(
            f"env_kwargs {env_kwargs!r} rejected by {family}:{name}: {error}"
        ) from None
