"""`window`: a batching proxy that closes batches on size or time.

No `from __future__ import annotations` here (see `base.PUBLIC_MODULE`).
"""

from typing import Literal

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


@batching_policy("window")
class WindowBatcher(BatchingPolicy):
    """A batching proxy in front of a server queue (time/size window).

    A batch opens with its first request and closes when it holds
    `max_batch_size` or `max_queue_delay` after that first arrival, whether or
    not a server is free (a request arriving exactly at the close joins the next
    batch). Closed batches queue FIFO; a free server takes the oldest.
    """

    tracks_arrivals = True

    class Config(BatchingConfig):
        __module__ = PUBLIC_MODULE
        policy: Literal["window"]

        def saturated_batch_size(self, rate_rps: float) -> float:
            """Batches close on time whether or not a server is free, so even an
            overloaded server gets about 1 + rate x delay requests per batch (capped)."""
            return min(float(self.max_batch_size), 1.0 + rate_rps * self.max_queue_delay)

    def __init__(self, config):
        super().__init__(config)
        self.batches = SegmentedQueue()

    def _close_due(self, now_s: float) -> None:
        b = self.batches
        if b.open_size and reached(now_s, b.open_since_s + self.delay_s):
            b.close()

    def admit(self, now_s):
        self._close_due(now_s)
        self.batches.add(now_s, self.max_size)
        return True

    def dropped(self, count):
        self.batches.dropped(count)

    def requeued(self, count):
        self.batches.requeued(count)

    def retract(self, action):
        self.batches.requeued(action.size)

    def decide(self, now_s, queued, oldest_s, free):
        self._close_due(now_s)
        b = self.batches
        if free == 0:
            return WAIT_FOR_SERVER
        if b.closed:
            return self._take(b.pop())
        if b.open_size == 0:
            return WAIT_FOR_ARRIVAL
        return Wait(b.open_since_s + self.delay_s, queued - b.open_size + self.max_size)
