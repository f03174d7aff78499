"""Service time of a batch: mean as a function of batch size, times random noise.

Owns the `service:` section of a scenario and the sampler the servers draw
from. No SimPy here: a batch of k requests takes `mean_s(k) * factor`, with
`mean_s(k) = base + per_item * k` or a measured table (linear interpolation),
and `factor` a random number of mean 1 (deterministic, gamma or lognormal
with the given cv). `exponential` makes the whole batch time exponential with
mean `mean_s(k)`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, Strict, model_validator

from .config import FieldError, PositiveSeconds, Seconds, Section

Distribution = Literal["deterministic", "exponential", "gamma", "lognormal"]
_CHUNK = 4096


class ServiceConfig(Section):
    """The `service:` section: batch service time = mean(k) x noise."""

    base: Seconds = Field(0.0, description="fixed time of every batch (occupies the server)")
    per_item: Seconds = Field(0.0, description="extra time per request in the batch")
    table: dict[Annotated[int, Strict(False), Field(ge=1)], PositiveSeconds] | None = Field(
        None, description="measured mean time by batch size (interpolated linearly)"
    )
    distribution: Distribution = "deterministic"
    cv: float = Field(0.0, ge=0, le=10, description="coefficient of variation of the noise")

    @model_validator(mode="after")
    def _consistent(self):
        if self.table is not None and (self.base or self.per_item):
            raise FieldError("service.table", "give either table or base/per_item, not both")
        if self.table is None and self.base + self.per_item <= 0:
            raise FieldError("service.base", "a batch must take some time: base + per_item > 0",
                             self.base)
        if self.table is not None and not self.table:
            raise FieldError("service.table", "table is empty", self.table)
        if self.distribution == "deterministic" and self.cv > 0:
            raise FieldError("service.cv", "deterministic service has no noise: drop cv or "
                             "choose gamma or lognormal", self.cv)
        if self.distribution == "exponential" and self.cv not in (0.0, 1.0):
            raise FieldError("service.cv", "exponential service has cv 1", self.cv)
        return self

    @property
    def largest_table_size(self) -> int | None:
        return max(self.table) if self.table else None

    def mean_s(self, batch_size: int) -> float:
        """Mean service time of a batch of `batch_size` requests."""
        if self.table is None:
            return self.base + self.per_item * batch_size
        sizes = sorted(self.table)
        return float(np.interp(batch_size, sizes, [self.table[k] for k in sizes]))

    @property
    def noise_cv(self) -> float:
        return 1.0 if self.distribution == "exponential" else self.cv


class ServiceSampler:
    """Draws batch service times for one replication from its own random stream."""

    def __init__(self, config: ServiceConfig, rng: np.random.Generator, max_size: int):
        self.mean_by_size_s = [0.0] + [config.mean_s(k) for k in range(1, max_size + 1)]
        self._draw = _noise_drawer(config, rng)
        self._factors: list[float] = []
        self._next = 0

    def sample_s(self, batch_size: int) -> float:
        """Service time of the next batch, which has `batch_size` (charged) requests."""
        if self._draw is None:
            return self.mean_by_size_s[batch_size]
        if self._next == len(self._factors):
            self._factors = self._draw(_CHUNK).tolist()
            self._next = 0
        factor = self._factors[self._next]
        self._next += 1
        return self.mean_by_size_s[batch_size] * factor


def _noise_drawer(config: ServiceConfig, rng: np.random.Generator):
    """A function n -> n noise factors of mean 1, or None when there is no noise."""
    cv = config.cv
    if config.distribution == "exponential":
        return lambda n: rng.exponential(1.0, n)
    if cv == 0:
        return None
    if config.distribution == "gamma":
        shape = 1.0 / cv**2
        return lambda n: rng.gamma(shape, 1.0 / shape, n)
    sigma = math.sqrt(math.log1p(cv**2))
    return lambda n: rng.lognormal(-sigma**2 / 2, sigma, n)
