"""The schema of the request path outside the servers: `service.overhead` and `network:`.

`OverheadConfig` (per-request `before`/`after` delays) and `NetworkConfig` (per-leg delay,
lost attempts, client timeout and retries); their semantics and simulation are in
`simulator/sim/client_path.py`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .config import FieldError, PositiveSeconds, Seconds, Section
from .delays import Delay, DelayConfig


class OverheadConfig(Section):
    """`service.overhead`: per-request delays outside the server (never occupy it)."""

    before: Delay | None = Field(None, description="hand-off: delays when the request "
                                 "reaches the queue")
    after: Delay | None = Field(None, description="response path: added after the batch ends")


class NetworkConfig(Section):
    """`network:`: client <-> server delay per leg, lost attempts and client retries."""

    delay: Delay = Field(default_factory=lambda: DelayConfig(mean=0.0),
                         description="one-way delay, drawn for each leg of each attempt")
    failure_probability: float = Field(0.0, ge=0, lt=1,
                                       description="chance that an attempt is lost")
    lost_on: Literal["request", "response", "both"] = Field(
        "both", description="the leg a lost attempt is lost on (both: either, equally)")
    timeout: PositiveSeconds | None = Field(
        None, description="the client retries an attempt not answered within this")
    max_retries: int = Field(3, ge=0, le=100, description="retries after the first attempt")
    backoff: Seconds = Field(0.0, description="wait after a timeout before the retry")
    backoff_multiplier: float = Field(1.0, ge=1, le=10, description="each retry waits this "
                                      "many times longer than the one before (2: exponential)")

    @model_validator(mode="after")
    def _timeout_needed(self):
        if self.failure_probability > 0 and self.timeout is None:
            raise FieldError("network.timeout", "required when network.failure_probability "
                             "> 0 (the client detects a lost attempt by its timeout)")
        return self
