"""Closed-loop clients (`arrival.process: closed`): N users who think, send, wait, repeat.

Owns the schema of the closed arrival process (`sim/users.py` runs the users).
Each of `users` users first thinks (so they do not start in lockstep), sends
one request, waits until it completes or is lost (rejected, timed out), then
thinks again: perf_analyzer's concurrency mode, or an interactive-system model.
The arrival rate is therefore an output; `mean_rate_rps` is only the upper
bound users / mean think time, used for sizing and warnings. The simulation
core runs these scenarios; they need `run.duration`.

```yaml
arrival:
  process: closed
  users: 32
  think_time: {mean: 50ms, distribution: exponential}   # or a fixed duration: 50ms
```
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import Field

from ..model.delays import Delay, DelayConfig
from .arrivals import ArrivalProcess, arrival_process


@arrival_process("closed")
class ClosedArrivals(ArrivalProcess):
    """Closed loop: `users` users, each sending its next request a think time after
    the previous one completed or was lost."""

    process: Literal["closed"]
    users: int = Field(ge=1, le=100_000, description="concurrent users (perf_analyzer "
                       "--concurrency-range)")
    think_time: Delay = Field(
        default_factory=lambda: DelayConfig(mean=0.0),
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
