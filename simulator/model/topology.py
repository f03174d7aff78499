"""The serving topology sections of a scenario: replicas with a router, request classes.

Owns the `replicas:` and `classes:` schema (and `queue.discipline`'s names) and
their cross-checks. No simulation here: `fleet` runs a scenario that uses any
of them, the plain single-queue engine runs the rest.

```yaml
replicas:
  count: 4                      # independent replicas, each servers.count servers
  router: join_shortest_queue   # round_robin | random | least_outstanding |
                                # join_shortest_queue | power_of_two
  service_time_factor: [1, 1, 1, 1.5]   # optional: replica 3 is 1.5x slower
classes:
  - {name: interactive, share: 0.2, priority: 1, slo: 50ms,
     queue_policy: {timeout: 40ms, action: reject, max_queue_size: 100}}
  - {name: batch, share: 0.8, priority: 0, slo: 1s}
```
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from .config import FieldError, PositiveSeconds, Section

ROUTERS = ("round_robin", "random", "least_outstanding", "join_shortest_queue",
           "power_of_two")
Router = Literal["round_robin", "random", "least_outstanding", "join_shortest_queue",
                 "power_of_two"]
Discipline = Literal["fifo", "priority", "edf"]


class ReplicasSection(Section):
    """N independent replicas (own queue, batcher and servers) behind one router.

    Routers: `round_robin` (in turn), `random` (uniform), `least_outstanding`
    (fewest queued + in service), `join_shortest_queue` (fewest queued),
    `power_of_two` (two distinct replicas drawn at random, the one with fewer
    queued + in service). Ties go to a replica drawn at random among the tied.
    """

    count: int = Field(1, ge=1, le=10_000, description="number of replicas")
    router: Router = Field("round_robin", description="how an arrival picks its replica")
    service_time_factor: list[float] | None = Field(
        None, description="per-replica multiplier of every service time (1.5 = 1.5x slower "
        "hardware); one entry per replica")

    @model_validator(mode="after")
    def _factors(self):
        factors = self.service_time_factor
        if factors is None:
            return self
        for factor in factors:
            if not (factor > 0 and math.isfinite(factor)):
                raise FieldError("replicas.service_time_factor",
                                 "every factor must be a positive number", factor)
        if self.router == "power_of_two" and self.count < 2:
            raise FieldError("replicas.router", "power_of_two needs at least 2 replicas",
                             self.router)
        return self

    def factors(self) -> list[float]:
        return self.service_time_factor or [1.0] * self.count


class EnsembleSection(Section):
    """Fork-join: every request goes to each of `branches` models served in parallel.

    Each branch is served like a replica (its own queue, batcher and
    servers.count servers, service times x its `service_time_factor`); the
    request is answered when all branches have answered (`join: all`) or the
    first `k` (`join: first_k`): its latency is the max (or k-th smallest) of
    its branches' latencies.
    """

    branches: int = Field(ge=2, le=1000, description="models each request fans out to")
    join: Literal["all", "first_k"] = Field("all", description="answer when all branches "
                                            "or the first k have answered")
    k: int | None = Field(None, ge=1, description="branches to wait for with join: first_k")
    service_time_factor: list[float] | None = Field(
        None, description="per-branch multiplier of every service time; one per branch")

    @model_validator(mode="after")
    def _consistent(self):
        if self.join == "first_k" and (self.k is None or self.k > self.branches):
            raise FieldError("ensemble.k", f"join: first_k needs k between 1 and branches "
                             f"({self.branches})", self.k)
        if self.join == "all" and self.k is not None:
            raise FieldError("ensemble.k", "k is only for join: first_k", self.k)
        factors = self.service_time_factor
        if factors is not None and (len(factors) != self.branches
                                    or not all(f > 0 and math.isfinite(f) for f in factors)):
            raise FieldError("ensemble.service_time_factor", f"needs {self.branches} "
                             "positive numbers, one per branch", factors)
        return self

    @property
    def needed(self) -> int:
        """Branch answers that complete a request."""
        return self.branches if self.join == "all" else self.k

    def factors(self) -> list[float]:
        return self.service_time_factor or [1.0] * self.branches


class QueuePolicy(Section):
    """Triton-style per-class queue policy."""

    timeout: PositiveSeconds | None = Field(
        None, description="a request of this class queued this long is handled by `action`")
    action: Literal["reject", "delay"] = Field(
        "reject", description="reject: dropped (timed out); delay: moved behind every "
        "request that has not timed out")
    max_queue_size: int | None = Field(
        None, ge=1, description="arrivals of this class beyond this many queued (per "
        "replica) are rejected")


class RequestClass(Section):
    """One request type: its share of the arrivals, its SLO and its priority."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=50)
    share: float | None = Field(None, gt=0, le=1, description="fraction of the arrivals of "
                                "this class (omitted with arrival.process: superposition, "
                                "where class k is stream k)")
    priority: int = Field(0, ge=-1000, le=1000, description="higher is batched first "
                          "(queue.discipline: priority)")
    slo: PositiveSeconds | None = Field(
        None, description="latency objective of this class: its goodput and SLO attainment, "
        "and its deadline under queue.discipline: edf")
    queue_policy: QueuePolicy = Field(default_factory=QueuePolicy)


def _check_shares(classes: list[RequestClass], streams: int | None) -> None:
    """Shares summing to 1; or, with a superposition, one class per stream and no shares."""
    shares = [c.share for c in classes]
    if streams is not None:
        if len(classes) != streams or any(share is not None for share in shares):
            raise FieldError("classes", f"with superposition arrivals, class k is stream k: "
                             f"give {streams} classes without share:", shares)
        return
    if any(share is None for share in shares):
        raise FieldError(f"classes.{shares.index(None)}.share", "required key is missing")
    total = math.fsum(shares)
    if abs(total - 1.0) > 1e-9:
        raise FieldError("classes", f"shares must sum to 1, they sum to {total:g}", shares)


def check_classes(classes: list[RequestClass] | None, discipline: str,
                  default_slo_s: float | None, streams: int | None = None) -> None:
    """Cross-checks of `classes:` against the discipline, the scenario SLO and the
    arrival streams (`streams`: how many a superposition has, else None)."""
    if classes is None:
        if discipline != "fifo":
            raise FieldError("queue.discipline", f"{discipline} needs classes:", discipline)
        return
    names = [c.name for c in classes]
    if not classes or len(set(names)) != len(names):
        raise FieldError("classes", "give one or more classes with unique names", names)
    _check_shares(classes, streams)
    if discipline == "edf":
        for k, c in enumerate(classes):
            if c.slo is None and default_slo_s is None:
                raise FieldError(f"classes.{k}.slo", "edf needs a deadline for every class "
                                 "(its slo, or slo.latency)")
