"""`arrival: {process: superposition, streams: [...]}`: independent arrival streams merged.

Owns the merge of several open arrival processes (any of poisson, constant,
gamma, onoff, trace) into one: the times of every stream, sorted, and which
stream each arrival came from. With `classes:`, stream k is class k, so each
class has its own rate and burstiness (a steady interactive stream beside a
bursty batch one) instead of a share of one stream.

Each stream draws from its own child of the replication's `arrivals` stream, so
changing one stream's settings never moves another's arrivals.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

import numpy as np
from pydantic import Field

from . import closed as _closed  # noqa: F401 - closed registers first; it is left out below
from .arrivals import ARRIVAL_PROCESSES, ArrivalProcess, arrival_process

StreamConfig = Annotated[
    Union[tuple(cls for name, cls in ARRIVAL_PROCESSES.items()  # noqa: UP007
                if name != "closed")],
    Field(discriminator="process"),
]


@arrival_process("superposition")
class SuperpositionArrivals(ArrivalProcess):
    """Several independent open arrival streams, merged."""

    process: Literal["superposition"]
    streams: list[StreamConfig] = Field(min_length=2, max_length=64,
                                        description="the arrival processes to merge")
    renewal: ClassVar[bool] = False

    @property
    def mean_rate_rps(self) -> float:
        return float(sum(s.mean_rate_rps for s in self.streams))

    @property
    def interarrival_cv(self) -> float:
        return float("nan")  # not a renewal process

    def times_and_streams(self, rng: np.random.Generator,
                          horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Sorted arrival times before `horizon_s`, and the stream of each."""
        children = rng.spawn(len(self.streams))
        parts = [s.times_s(child, horizon_s=horizon_s)
                 for s, child in zip(self.streams, children, strict=True)]
        times = np.concatenate(parts)
        labels = np.repeat(np.arange(len(parts), dtype=np.int16), [p.size for p in parts])
        order = np.argsort(times, kind="stable")
        return times[order], labels[order]

    def times_s(self, rng, horizon_s=None, n=None):
        if horizon_s is None:
            raise TypeError("superposition arrivals need run.duration")
        return self.times_and_streams(rng, horizon_s)[0]
