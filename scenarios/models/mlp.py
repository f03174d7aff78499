"""A small numpy MLP to profile with `batchsim profile` (needs only numpy).

    batchsim profile scenarios/models/mlp.py:forward \\
        --input-factory scenarios/models/mlp.py:make_batch --batch-sizes 1,2,4,8,16,32,64

Three dense layers (256 -> 1024 -> 1024 -> 10) with ReLU: a recommender-sized
scoring model. Weights are fixed (seed 0) so every run times the same model.
For stable timings pin BLAS to one thread: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1.
"""

import numpy as np

FEATURES, HIDDEN, OUTPUTS = 256, 1024, 10
_rng = np.random.default_rng(0)
WEIGHTS = [
    (_rng.standard_normal((FEATURES, HIDDEN), dtype=np.float32) / 16, np.zeros(HIDDEN, np.float32)),
    (_rng.standard_normal((HIDDEN, HIDDEN), dtype=np.float32) / 32, np.zeros(HIDDEN, np.float32)),
    (_rng.standard_normal((HIDDEN, OUTPUTS), dtype=np.float32) / 32, np.zeros(OUTPUTS, np.float32)),
]


def make_batch(batch_size: int) -> np.ndarray:
    """A batch of `batch_size` random feature vectors."""
    return _rng.standard_normal((batch_size, FEATURES), dtype=np.float32)


def forward(batch: np.ndarray) -> np.ndarray:
    """Scores of a batch: dense + ReLU, dense + ReLU, dense."""
    x = batch
    for i, (weight, bias) in enumerate(WEIGHTS):
        x = x @ weight + bias
        if i < len(WEIGHTS) - 1:
            np.maximum(x, 0, out=x)
    return x
