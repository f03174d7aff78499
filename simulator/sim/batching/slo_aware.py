"""`slo_aware`: deadline-aware batching (Clockwork/Nexus style).

No `from __future__ import annotations` here (see `base.PUBLIC_MODULE`).
"""

from typing import Literal

from pydantic import Field

from ...model.config import PositiveSeconds, Seconds
from .base import (
    PUBLIC_MODULE,
    TIME_EPS_S,
    WAIT_FOR_ARRIVAL,
    WAIT_FOR_SERVER,
    BatchingConfig,
    BatchingPolicy,
    Wait,
    batching_policy,
    reached,
)


@batching_policy("slo_aware")
class SloAwareBatcher(BatchingPolicy):
    """Deadline-aware batching (Clockwork/Nexus style): wait only while it is safe.

    The oldest waiting request must finish by its arrival + `latency_objective`
    - `slack` (a margin for service-time noise and for the requests that queue
    behind the batch; 0 plans on the mean alone).
    With E[S(k)] the expected service time of a batch of k (from `service:`),
    a free server with q waiting:
    1. takes `max_batch_size` at once if that many wait;
    2. else takes the largest m <= q with now + E[S(m)] <= deadline at once if
       m < q (a newcomer would make the oldest miss);
    3. else, when no size fits, the oldest cannot finish in time: it never
       waits, the q waiting go at once;
    4. else (all q fit) waits for one more arrival, at most until
       deadline - E[S(q)] (the last moment the q can still make it), or until
       the oldest has waited `max_queue_delay` when that is above 0.
    """

    class Config(BatchingConfig):
        __module__ = PUBLIC_MODULE
        policy: Literal["slo_aware"]
        latency_objective: PositiveSeconds | None = Field(
            None, description="deadline of each request after its arrival (default: "
            "slo.latency)")
        slack: Seconds = Field(0.0, description="plan to finish this long before the "
                               "deadline")

    def __init__(self, config):
        super().__init__(config)
        self.objective_s = config.latency_objective
        self.expected_s = None

    def bind_service(self, mean_service_s) -> None:
        """Learn E[S(k)], the expected service time of a batch of k requests."""
        self.expected_s = mean_service_s

    def decide(self, now_s, queued, oldest_s, free):
        if free == 0:
            return WAIT_FOR_SERVER
        if queued == 0:
            return WAIT_FOR_ARRIVAL
        if queued >= self.max_size:
            return self._take(self.max_size)
        deadline_s = oldest_s + self.objective_s - self.config.slack
        expected_s = self.expected_s
        fits = queued
        while fits and now_s + expected_s(fits) > deadline_s + TIME_EPS_S:
            fits -= 1
        if fits == 0:
            return self._take(queued)
        if fits < queued:
            return self._take(fits)
        until_s = deadline_s - expected_s(queued)
        if self.delay_s > 0:
            until_s = min(until_s, oldest_s + self.delay_s)
        if reached(now_s, until_s):
            return self._take(queued)
        return Wait(until_s, queued + 1)
