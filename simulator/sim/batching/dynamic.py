"""`dynamic`: NVIDIA Triton's dynamic batcher.

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


@batching_policy("dynamic")
class TritonDynamicBatcher(BatchingPolicy):
    """NVIDIA Triton's dynamic batcher (server-aware).

    A batch is cut only when a server is free. Then, in this order:
    1. if `max_batch_size` requests wait, the oldest `max_batch_size` go at once;
    2. else if `preferred_batch_sizes` are set and one can be formed, the largest
       preferred size not above the queue length goes at once;
    3. else if the oldest request has waited `max_queue_delay`, all waiting go;
    4. else wait for one of those to become true.
    While every server is busy, requests accumulate; a server that frees takes up
    to `max_batch_size` at once. With `max_queue_delay: 0` this is the bulk-service
    queue M/G^[1,b]/c of queueing theory.
    """

    class Config(BatchingConfig):
        __module__ = PUBLIC_MODULE
        policy: Literal["dynamic"]
        preferred_batch_sizes: list[int] | None = Field(
            None, description="sizes sent at once when they can be formed (Triton)"
        )

        @model_validator(mode="after")
        def _preferred_fit(self):
            for size in self.preferred_batch_sizes or ():
                if not 1 <= size <= self.max_batch_size:
                    raise FieldError("batching.preferred_batch_sizes",
                                     f"{size} is not between 1 and max_batch_size "
                                     f"({self.max_batch_size})", size)
            return self

    def __init__(self, config):
        super().__init__(config)
        self.preferred = sorted(set(config.preferred_batch_sizes or ()))

    def decide(self, now_s, queued, oldest_s, free):
        if free == 0:
            return WAIT_FOR_SERVER
        if queued == 0:
            return WAIT_FOR_ARRIVAL
        if queued >= self.max_size:
            return self._take(self.max_size)
        next_trigger = self.max_size
        if self.preferred:
            i = bisect.bisect_right(self.preferred, queued)
            if i > 0:
                return self._take(self.preferred[i - 1])
            next_trigger = self.preferred[0]
        deadline_s = oldest_s + self.delay_s
        if reached(now_s, deadline_s):
            return self._take(queued)
        return Wait(deadline_s, next_trigger)
