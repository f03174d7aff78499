"""The model the testbed server runs: a numpy MLP (256 -> H -> H -> 10, ReLU).

Same shape as scenarios/models/mlp.py, with a configurable hidden width so the
server's capacity stays within what a Python load generator can offer (the
default width 2048 gives ~0.6 ms at batch 1 and ~2.5 ms at batch 8 on one core).
Import it only after `pin_blas_threads()` has run.
"""

from __future__ import annotations

import os

FEATURES, OUTPUTS = 256, 10
DEFAULT_HIDDEN = 2048
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_blas_threads() -> None:
    """One BLAS thread (must run before numpy is first imported in this process)."""
    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = "1"


class MLP:
    """Fixed weights (seed 0), inputs for batches up to `max_batch_size` preallocated."""

    def __init__(self, hidden: int = DEFAULT_HIDDEN, max_batch_size: int = 32):
        import numpy as np

        rng = np.random.default_rng(0)
        self._np = np
        self.weights = [
            rng.standard_normal((FEATURES, hidden), dtype=np.float32) / 16,
            rng.standard_normal((hidden, hidden), dtype=np.float32) / 32,
            rng.standard_normal((hidden, OUTPUTS), dtype=np.float32) / 32,
        ]
        self.inputs = rng.standard_normal((max_batch_size, FEATURES), dtype=np.float32)

    def forward(self, batch_size: int):
        """Scores of a batch of `batch_size` requests (rows of the preallocated input)."""
        x = self.inputs[:batch_size]
        last = len(self.weights) - 1
        for i, weight in enumerate(self.weights):
            x = x @ weight
            if i < last:
                self._np.maximum(x, 0, out=x)
        return x
