"""Not compiling twice: an in-process memo for compiled programs, and JAX's persistent
compilation cache, so that a repeated run of the same program skips XLA.

The CLI turns it on for every command; library users call `enable_compile_cache()` themselves.
`PUREJAXPPO_COMPILE_CACHE` chooses: unset for the default folder, a path for another one, or
`0` / `off` to leave the cache off.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE_VARIABLE = "PUREJAXPPO_COMPILE_CACHE"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "purejaxppo" / "jax"
# Programs that compile faster than this are not worth a disk entry (JAX's own default is 1 s).
MIN_COMPILE_SECONDS = 0.5


def memoize_compiled(compile_fn: Callable[..., tuple]) -> Callable[..., tuple]:
    """Memoizes `compile_fn(*args) -> (*programs, seconds)` on its (hashable) arguments.

    Returns:
        A function with the same results, except that `seconds` is 0.0 when the programs came
        from the memo (nothing was compiled in that call). Up to 32 entries are kept.
    """
    memo = functools.lru_cache(maxsize=32)(compile_fn)

    @functools.wraps(compile_fn)
    def compiled(*args: Any) -> tuple:
        hits = memo.cache_info().hits
        *programs, seconds = memo(*args)
        return (*programs, 0.0 if memo.cache_info().hits > hits else seconds)

    return compiled


def compile_cache_dir() -> Path | None:
    """The folder `PUREJAXPPO_COMPILE_CACHE` selects, or None when it turns the cache off."""
    value = os.environ.get(CACHE_VARIABLE, "").strip()
    if value.lower() in ("0", "off", "false", "no"):
        return None
    return Path(value).expanduser() if value else DEFAULT_CACHE_DIR


def enable_compile_cache(path: str | Path | None = None) -> Path | None:
    """Points JAX's persistent compilation cache at `path` (default: `compile_cache_dir()`).

    A program compiled once (same jaxlib, XLA flags, shapes and config) is then loaded from disk
    by later processes: the CartPole `train` compiles in about 7 s cold and loads in about 0.5 s
    on a 2-core CPU. Results are bit-identical either way.

    Returns:
        The cache folder in use, or None if the environment variable turned it off.
    """
    import jax

    folder = Path(path).expanduser() if path is not None else compile_cache_dir()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return folder
