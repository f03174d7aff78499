"""`adaptive`: Clipper's AIMD batch-size cap (a feedback policy).

No `from __future__ import annotations` here (see `base.PUBLIC_MODULE`).
"""

from typing import Literal

from pydantic import Field, model_validator

from ...model.config import FieldError, PositiveSeconds
from .base import (
    PUBLIC_MODULE,
    WAIT_FOR_ARRIVAL,
    WAIT_FOR_SERVER,
    BatchingConfig,
    BatchingPolicy,
    Wait,
    batching_policy,
    reached,
)


@batching_policy("adaptive")
class AdaptiveBatcher(BatchingPolicy):
    """Clipper's adaptive batching (AIMD on the batch-size cap).

    A free server takes up to `cap` waiting requests: at once if `cap` wait,
    else all waiting once the oldest has waited `max_queue_delay` (0: at once,
    as Clipper does). When a batch of size >= cap finishes within
    `latency_objective`, the cap grows by `additive_increase` (up to
    `max_batch_size`); when any batch takes longer, the cap is cut to
    floor(cap x (1 - `multiplicative_decrease`)), at least 1. A batch smaller
    than the cap says nothing about the cap and leaves it alone. The cap in
    force when each batch was cut is kept (`cap_history`, then the record's
    `batch_cap`) for the timeline plot.
    """

    learns = True

    class Config(BatchingConfig):
        __module__ = PUBLIC_MODULE
        policy: Literal["adaptive"]
        latency_objective: PositiveSeconds = Field(
            description="a batch's service time above this cuts the cap")
        additive_increase: int = Field(1, ge=1, description="cap growth after a batch "
                                       "that was at the cap and met the objective")
        multiplicative_decrease: float = Field(0.1, gt=0, lt=1, description="fraction of "
                                               "the cap removed after a batch that missed")
        initial_cap: int = Field(1, ge=1, description="cap at the start of the run")

        @model_validator(mode="after")
        def _initial_fits(self):
            if self.initial_cap > self.max_batch_size:
                raise FieldError("batching.initial_cap", f"larger than max_batch_size "
                                 f"({self.max_batch_size})", self.initial_cap)
            return self

    def __init__(self, config):
        super().__init__(config)
        self.cap = config.initial_cap
        self.objective_s = config.latency_objective
        self.cap_history: list[int] = []

    def completed(self, now_s, size, service_s):
        cfg = self.config
        if service_s > self.objective_s:
            self.cap = max(1, int(self.cap * (1.0 - cfg.multiplicative_decrease)))
        elif size >= self.cap:
            self.cap = min(self.max_size, self.cap + cfg.additive_increase)

    def decide(self, now_s, queued, oldest_s, free):
        if free == 0:
            return WAIT_FOR_SERVER
        if queued == 0:
            return WAIT_FOR_ARRIVAL
        cap = self.cap
        deadline_s = oldest_s + self.delay_s
        if queued >= cap or reached(now_s, deadline_s):
            self.cap_history.append(cap)
            return self._take(min(queued, cap))
        return Wait(deadline_s, cap)

    def retract(self, action):
        self.cap_history.pop()
