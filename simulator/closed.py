"""Closed-loop clients (`arrival.process: closed`): N users who think, send, wait, repeat.

Owns the schema of the closed arrival process and the think-time sampler.
Each of `users` users first thinks (so they do not start in lockstep), sends
one request, waits until it completes or is lost (rejected, timed out), then
thinks again: perf_analyzer's concurrency mode, or an interactive-system model.
The arrival rate is therefore an output; `mean_rate_rps` is only the upper
bound users / mean think time, used for sizing and warnings. The fleet model
(`fleet`) runs these scenarios; they need `run.duration`.

```yaml
arrival:
  process: closed
  users: 32
  think_time: {mean: 50ms, distribution: exponential}   # or a duration: 50ms
```
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import BeforeValidator, Field

from .arrivals import ArrivalProcess, arrival_process
from .config import Seconds, Section
from .units import parse_duration_s

_CHUNK = 4096


class ThinkTime(Section):
    """A random duration: its mean, distribution and (gamma, lognormal) cv."""

    mean: Seconds = Field(description="mean think time")
    distribution: Literal["deterministic", "exponential", "gamma", "lognormal"] = \
        "exponential"
    cv: float = Field(1.0, gt=0, le=10, description="coefficient of variation (gamma, "
                      "lognormal)")

    def sampler(self, rng: np.random.Generator):
        """A function returning the next think time in seconds."""
        mean_s, cv = self.mean, self.cv
        if self.distribution == "deterministic" or mean_s == 0:
            return lambda: mean_s
        if self.distribution == "exponential":
            def draw(n):
                return rng.exponential(mean_s, n)
        elif self.distribution == "gamma":
            def draw(n):
                return rng.gamma(1 / cv**2, mean_s * cv**2, n)
        else:
            sigma = math.sqrt(math.log1p(cv**2))

            def draw(n):
                return mean_s * rng.lognormal(-sigma**2 / 2, sigma, n)
        return _chunked(draw)


def _chunked(draw):
    buffer: list[float] = []

    def next_value() -> float:
        if not buffer:
            buffer.extend(reversed(draw(_CHUNK).tolist()))
        return buffer.pop()

    return next_value


def _think_time(value):
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"mean": parse_duration_s(value), "distribution": "deterministic"}
    return value


@arrival_process("closed")
class ClosedArrivals(ArrivalProcess):
    """Closed loop: `users` users, each sending its next request a think time after
    the previous one completed or was lost."""

    process: Literal["closed"]
    users: int = Field(ge=1, le=100_000, description="concurrent users (perf_analyzer "
                       "--concurrency-range)")
    think_time: Annotated[ThinkTime, BeforeValidator(_think_time)] = Field(
        default_factory=lambda: ThinkTime(mean=0.0, distribution="deterministic"),
        description="pause between a response and the user's next request: a duration "
        "(fixed) or {mean, distribution, cv}")
    renewal: ClassVar[bool] = False
    closed: ClassVar[bool] = True

    @property
    def mean_rate_rps(self) -> float:
        """Upper bound: every user's request answered at once (users / mean think)."""
        return self.users / max(self.think_time.mean, 1e-3)

    @property
    def interarrival_cv(self) -> float:
        return math.nan

    def times_s(self, rng, horizon_s=None, n=None):
        raise TypeError("closed-loop arrivals depend on the responses: the fleet model "
                        "generates them during the run")
