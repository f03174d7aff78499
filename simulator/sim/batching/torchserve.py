"""`torchserve`: TorchServe's batch aggregator.

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


@batching_policy("torchserve")
class TorchServeBatcher(BatchingPolicy):
    """TorchServe's batch aggregator.

    A worker that becomes free (one at a time, in the order they freed) takes
    the oldest waiting request, or waits for one; from that moment it collects
    more for at most `max_queue_delay` (`max_batch_delay`), and leaves at once
    when it holds `max_batch_size` (`batch_size`). Unlike Triton, the delay
    starts when the worker takes the first request, not when it arrived.
    """

    def __init__(self, config):
        super().__init__(config)
        self.collecting = False
        self.collect_since_s = 0.0

    class Config(BatchingConfig):
        __module__ = PUBLIC_MODULE
        policy: Literal["torchserve"]

    def decide(self, now_s, queued, oldest_s, free):
        if not self.collecting:
            if free == 0:
                return WAIT_FOR_SERVER
            if queued == 0:
                return WAIT_FOR_ARRIVAL
            self.collecting, self.collect_since_s = True, now_s
        if queued == 0:  # the request it held timed out
            self.collecting = False
            return WAIT_FOR_ARRIVAL
        deadline_s = self.collect_since_s + self.delay_s
        if queued >= self.max_size or reached(now_s, deadline_s):
            self.collecting = False
            return self._take(min(queued, self.max_size))
        return Wait(deadline_s, self.max_size)

    def outage(self):
        self.collecting = False  # the collecting worker went down with its replica

    def retract(self, action):
        self.collecting = True  # the worker still holds what it collected
