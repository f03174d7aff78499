"""`tfserving`: TensorFlow Serving's batch scheduler.

No `from __future__ import annotations` here (see `base.PUBLIC_MODULE`).
"""

import bisect
from typing import Literal

from pydantic import Field, model_validator

from ...model.config import FieldError
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
from .segments import SegmentedQueue


@batching_policy("tfserving")
class TFServingBatcher(BatchingPolicy):
    """TensorFlow Serving's batch scheduler (BasicBatchScheduler semantics).

    Arrivals fill an open batch; it closes as soon as it holds `max_batch_size`
    and waits as a closed batch. A free thread (`servers.count` plays
    `num_batch_threads`) takes the oldest closed batch, or else the open batch
    once its first request has waited `max_queue_delay` (`batch_timeout_micros`).
    At most `max_enqueued_batches` batches (the open one included) may exist: an
    arrival that needs a new batch beyond that is rejected. With
    `allowed_batch_sizes`, a batch is padded to the next allowed size and the
    server is charged for the padded size.
    """

    tracks_arrivals = True

    class Config(BatchingConfig):
        __module__ = PUBLIC_MODULE
        policy: Literal["tfserving"]
        max_enqueued_batches: int = Field(10, ge=1, description="batches that may wait")
        allowed_batch_sizes: list[int] | None = Field(
            None, description="sizes a batch is padded to; the last must be max_batch_size"
        )

        @model_validator(mode="after")
        def _allowed_sizes(self):
            sizes = self.allowed_batch_sizes
            if sizes is None:
                return self
            if not sizes or sizes != sorted(set(sizes)) or sizes[0] < 1:
                raise FieldError("batching.allowed_batch_sizes",
                                 "must be increasing positive sizes", sizes)
            if sizes[-1] != self.max_batch_size:
                raise FieldError("batching.allowed_batch_sizes",
                                 f"the last size must equal max_batch_size "
                                 f"({self.max_batch_size})", sizes)
            return self

        def charged_size(self, size: int) -> int:
            if not self.allowed_batch_sizes:
                return size
            return self.allowed_batch_sizes[bisect.bisect_left(self.allowed_batch_sizes, size)]

    def __init__(self, config):
        super().__init__(config)
        self.batches = SegmentedQueue()
        self.max_batches = config.max_enqueued_batches

    def admit(self, now_s):
        b = self.batches
        if b.open_size == 0 and len(b.closed) + 1 > self.max_batches:
            return False
        b.add(now_s, self.max_size)
        return True

    def dropped(self, count):
        self.batches.dropped(count)

    def requeued(self, count):
        self.batches.requeued(count)

    def retract(self, action):
        self.batches.requeued(action.size)

    def decide(self, now_s, queued, oldest_s, free):
        b = self.batches
        if free == 0:
            return WAIT_FOR_SERVER
        if b.closed:
            return self._take(b.pop())
        if b.open_size == 0:
            return WAIT_FOR_ARRIVAL
        deadline_s = b.open_since_s + self.delay_s
        if reached(now_s, deadline_s):
            return self._take(b.pop())
        return Wait(deadline_s, queued - b.open_size + self.max_size)
