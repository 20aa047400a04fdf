"""`purejaxppo ARGS...` whose chunks from the BLOCK_FROM-th on never finish (run as a subprocess).

Usage: python stuck_train.py BLOCK_FROM train ARGS...  A stuck chunk returns results that never
become ready, as the outputs of a deadlocked XLA program do: the process sits at 0% CPU, and
only the package's watchdog or its signal handling can end the run.
"""

from __future__ import annotations

import sys

import jax

import purejaxppo.driver as driver
from purejaxppo.cli import main

BLOCK_FROM = int(sys.argv[1])
_real_compile = driver.compile_chunked


class NeverReady:
    """Stands for an array whose computation never ends."""

    def is_ready(self) -> bool:
        return False


def _compile_with_stuck_chunks(config, num_runs, per_run, lengths, *rest):
    init, chunks, seconds = _real_compile(config, num_runs, per_run, lengths, *rest)
    calls = {"n": 0}

    def wrap(real):
        def chunk(state, hparams):
            calls["n"] += 1
            if calls["n"] <= BLOCK_FROM:
                return real(state, hparams)
            return jax.tree.map(lambda _: NeverReady(), real(state, hparams))

        return chunk

    return init, {n: wrap(c) for n, c in chunks.items()}, seconds


driver.compile_chunked = _compile_with_stuck_chunks
if __name__ == "__main__":
    sys.exit(main(sys.argv[2:]))
