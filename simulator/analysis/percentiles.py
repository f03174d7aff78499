"""Sample percentiles, exactly as numpy computes them, without its `numpy.ma` import.

Owns `percentiles()`: `np.percentile`'s default ("linear", Hyndman & Fan's method 7)
written out, because `np.percentile` calls `np.unique`, whose first call imports
`numpy.ma` (~17 ms of every run's start-up). Tests check it against numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentiles(samples: np.ndarray, qs: Sequence[float], scratch: bool = False) -> np.ndarray:
    """`np.percentile(samples, qs)` to the last bit; `samples` is one-dimensional and not
    empty, and with `scratch` it is reordered in place (else copied)."""
    arr = samples if scratch else samples.copy()
    n = arr.size
    virtual = (n - 1) * np.true_divide(qs, 100)
    below = np.floor(virtual)
    above = below + 1
    below[virtual >= n - 1] = above[virtual >= n - 1] = -1  # the top: the maximum
    below, above = below.astype(np.intp), above.astype(np.intp)
    arr.partition(sorted({0, n - 1, *(below % n).tolist(), *(above % n).tolist()}))
    if np.issubdtype(arr.dtype, np.inexact) and np.isnan(arr[-1]):
        return np.full(virtual.size, np.nan)
    low, high, gamma = arr[below], arr[above], virtual - below
    step = high - low
    result = low + step * gamma
    np.subtract(high, step * (1 - gamma), out=result, where=gamma >= 0.5)
    return result
