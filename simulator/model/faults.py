"""Faults: outages of replicas (given times or random MTBF/MTTR) and straggling batches.

Owns the `faults:` schema (`sim/outages.py` and `sim/servers.py` apply it). The fleet
model applies them (`fleet.Replica.go_down` / `come_up`); the plain engine
never sees a scenario with faults.

```yaml
faults:
  outages:                          # given down times
    - {replica: 0, at: 20s, duration: 5s}
  mtbf: 60s                         # and/or random: exponential time between failures
  mttr: 5s                          #   and exponential repair time, per replica
  in_flight: retry                  # retry: an interrupted batch's requests go back to the
                                    #   head of the queue; lost: they fail (outcome failed)
  stragglers: {fraction: 0.01, slowdown: 5}   # 1% of batches take 5x longer
```

While a replica is down its servers take no batches (its queue keeps the
requests it holds, which wait or time out) and the router sends it nothing:
an arrival aimed at it goes to the up replica with the fewest queued + in
service (load-aware routers) or to one drawn at random among those up
(`round_robin`, `random`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .config import FieldError, PositiveSeconds, Seconds, Section


class Outage(Section):
    """One given outage: replica `replica` is down from `at` for `duration`."""

    replica: int = Field(0, ge=0, description="replica index (0 without replicas:)")
    at: Seconds = Field(description="start of the outage")
    duration: PositiveSeconds = Field(description="how long it stays down")


class Stragglers(Section):
    """A fraction of batches are `slowdown` times slower."""

    fraction: float = Field(gt=0, le=1, description="share of batches that straggle")
    slowdown: float = Field(gt=1, le=1000, description="service time multiplier of a "
                            "straggling batch")


class FaultsSection(Section):
    """Outages (given or random) and stragglers."""

    # a lambda, not `list`: pydantic reads a builtin's signature by tokenizing its text
    # signature, and compiling tokenize's patterns is ~15 ms of every command's start-up
    outages: list[Outage] = Field(default_factory=lambda: [])
    mtbf: PositiveSeconds | None = Field(None, description="mean up time between random "
                                         "failures of each replica (exponential)")
    mttr: PositiveSeconds | None = Field(None, description="mean repair time (exponential)")
    in_flight: Literal["retry", "lost"] = Field(
        "retry", description="what happens to the batch a failing replica was serving")
    stragglers: Stragglers | None = None

    @model_validator(mode="after")
    def _pairs(self):
        if (self.mtbf is None) != (self.mttr is None):
            raise FieldError("faults.mttr" if self.mttr is None else "faults.mtbf",
                             "give both mtbf and mttr for random failures")
        return self

    def check_replicas(self, count: int) -> None:
        for k, outage in enumerate(self.outages):
            if outage.replica >= count:
                raise FieldError(f"faults.outages.{k}.replica", f"there are only {count} "
                                 "replicas (indexes from 0)", outage.replica)
