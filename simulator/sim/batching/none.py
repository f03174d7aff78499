"""`none`: no batching, one request per batch.

No `from __future__ import annotations` here (see `base.PUBLIC_MODULE`).
"""

from typing import Literal

from pydantic import model_validator

from ...model.config import FieldError
from .base import (
    PUBLIC_MODULE,
    WAIT_FOR_ARRIVAL,
    WAIT_FOR_SERVER,
    BatchingConfig,
    BatchingPolicy,
    batching_policy,
)


@batching_policy("none")
class NoBatching(BatchingPolicy):
    """No batching: a free server takes the oldest request alone (batch size 1)."""

    class Config(BatchingConfig):
        __module__ = PUBLIC_MODULE
        policy: Literal["none"]
        switch_drops = ("max_batch_size", "max_queue_delay")

        @model_validator(mode="after")
        def _one(self):
            if self.max_batch_size != 1:
                raise FieldError("batching.max_batch_size",
                                 "policy none serves one request per batch", self.max_batch_size)
            return self

    def decide(self, now_s, queued, oldest_s, free):
        if free == 0:
            return WAIT_FOR_SERVER
        return self._take(1) if queued else WAIT_FOR_ARRIVAL
