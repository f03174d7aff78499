"""Random delays outside the servers: their schema and vectorised sampling.

Owns the `Delay` field type used by `service.overhead` and `network.delay`: a
duration (`150us`, a fixed delay) or a distribution `{mean, distribution, cv}`
with the same distribution names and cv as `service:`. Delays never occupy a
server; `sample_s` draws a whole array of them from one random stream.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from .config import _DURATION_JSON_SCHEMA, Seconds, Section
from .units import parse_duration_s

MAX_MEAN_DELAY_S = 86_400.0
"""A mean delay above a day is a mistake (and would push times towards overflow)."""
DelayDistribution = Literal["deterministic", "exponential", "gamma", "lognormal"]


class DelayConfig(Section):
    """A delay of mean `mean`: fixed, or drawn from `distribution` with coefficient `cv`."""

    mean: Seconds = Field(le=MAX_MEAN_DELAY_S, description="mean delay")
    distribution: DelayDistribution = "deterministic"
    cv: float = Field(0.0, ge=0, le=10, description="coefficient of variation")

    @model_validator(mode="after")
    def _consistent(self):
        if self.distribution == "deterministic" and self.cv > 0:
            raise ValueError(f"a deterministic delay has no noise (cv {self.cv:g}): drop cv "
                             "or choose gamma or lognormal")
        if self.distribution == "exponential" and self.cv not in (0.0, 1.0):
            raise ValueError(f"an exponential delay has cv 1, not {self.cv:g}")
        return self

    @property
    def is_zero(self) -> bool:
        return self.mean == 0

    def sample_s(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` independent delays in seconds (no random numbers used when fixed)."""
        mean = self.mean
        if self.distribution == "exponential":
            return rng.exponential(mean, n)
        if mean == 0 or self.cv == 0:
            return np.full(n, mean)
        if self.distribution == "gamma":
            shape = 1.0 / self.cv**2
            return rng.gamma(shape, mean / shape, n)
        sigma = math.sqrt(math.log1p(self.cv**2))
        return mean * np.exp(sigma * rng.standard_normal(n) - sigma * sigma / 2)


def _mapping_or_duration(value: object) -> object:
    """A bare duration becomes `{mean: value}` (a fixed delay); mappings pass through."""
    if isinstance(value, dict | DelayConfig):
        return value
    return {"mean": parse_duration_s(value)}


_DELAY_JSON_SCHEMA = {
    "anyOf": [
        _DURATION_JSON_SCHEMA,
        {
            "type": "object",
            "properties": {
                "mean": _DURATION_JSON_SCHEMA,
                "distribution": {"enum": ["deterministic", "exponential", "gamma",
                                          "lognormal"], "default": "deterministic"},
                "cv": {"type": "number", "minimum": 0, "maximum": 10, "default": 0},
            },
            "required": ["mean"],
            "additionalProperties": False,
        },
    ],
    "description": "a fixed delay (5ms) or {mean, distribution, cv}",
}

Delay = Annotated[DelayConfig, BeforeValidator(_mapping_or_duration),
                  WithJsonSchema(_DELAY_JSON_SCHEMA)]
"""A field that takes `150us` or `{mean: 50us, distribution: lognormal, cv: 0.5}`."""
