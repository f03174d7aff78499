"""The plain sections of a scenario: run length, servers, hardware, queue and SLO.

Owns the schema of `run:`, `servers:` (with `wakeup`, `idle_penalty`, `stalls`),
`hardware:`, `queue:` and `slo:`. The sections with rules of their own live in
their own modules (topology, stages, faults, autoscaling, network, grid); the
`Scenario` that holds them all is in `scenario.py`.
"""

from __future__ import annotations

import difflib
import math
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ..workload.service import ServiceConfig
from .config import FieldError, PositiveSeconds, Seconds, Section
from .delays import Delay
from .topology import Discipline

PRECISION_STATISTICS = (
    *(f"latency.{k}" for k in ("mean", "p50", "p90", "p95", "p99", "p999")),
    *(f"wait.{k}" for k in ("mean", "p50", "p90", "p95", "p99", "p999")),
    "throughput", "goodput", "slo_attainment",
)
"""Statistics `run.target_precision` may name (`p99` is short for `latency.p99`)."""


def _precision_fraction(value: object) -> float:
    """`"2%"` or `0.02` -> 0.02 (a relative CI half-width, between 0 and 1)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            fraction = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"cannot read {value!r} as a percentage") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        fraction = float(value)
    else:
        raise ValueError(f"expected a relative precision such as 2% or 0.02, got {value!r}")
    if not 0 < fraction < 1:
        raise ValueError("precision must be between 0% and 100%")
    return fraction


Precision = Annotated[float, BeforeValidator(_precision_fraction)]


def _expand_statistic(name: str) -> str:
    return f"latency.{name}" if name in ("mean", "p50", "p90", "p95", "p99", "p999") else name


class RunSection(Section):
    """How long to simulate and how many independent replications."""

    duration: PositiveSeconds | None = Field(None, description="simulated time per replication")
    requests: int | None = Field(None, ge=1, description="arrivals per replication instead")
    warmup: Seconds | Literal["auto"] = Field(
        0.0, description="initial time excluded from every statistic, or auto (MSER-5)")
    replications: int = Field(5, ge=1, le=10_000, description="independent seeds")
    target_precision: dict[str, Precision] | None = Field(
        None, description="add replications until each named statistic's 95% CI half-width "
        "is within this fraction of it, e.g. {p99: 2%}")
    max_replications: int = Field(100, ge=1, le=10_000,
                                  description="upper bound when target_precision is set")

    @field_validator("warmup")
    @classmethod
    def _warmup_before_end(cls, warmup_s: float | str, info) -> float | str:
        duration_s = info.data.get("duration")
        if warmup_s != "auto" and duration_s is not None and warmup_s >= duration_s:
            raise ValueError(f"warmup must be shorter than duration ({duration_s:g}s)")
        return warmup_s

    @field_validator("target_precision", mode="before")
    @classmethod
    def _known_statistics(cls, targets):
        if not isinstance(targets, dict):
            return targets
        targets = {_expand_statistic(str(k)): v for k, v in targets.items()}
        for name in targets:
            if name not in PRECISION_STATISTICS:
                close = difflib.get_close_matches(name, PRECISION_STATISTICS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else \
                    f" (choose from {', '.join(PRECISION_STATISTICS)})"
                raise FieldError(f"run.target_precision.{name}", f"unknown statistic{hint}")
        return targets

    @model_validator(mode="after")
    def _one_length(self):
        if (self.duration is None) == (self.requests is None):
            raise FieldError("run.duration", "give exactly one of run.duration and run.requests")
        if self.target_precision and self.max_replications < self.replications:
            raise FieldError("run.max_replications", f"must be at least run.replications "
                             f"({self.replications})", self.max_replications)
        return self

    @property
    def fixed_warmup_s(self) -> float:
        """The warm-up to apply before any automatic cut (0 with `auto`)."""
        return 0.0 if self.warmup == "auto" else self.warmup


class IdlePenalty(Section):
    """Extra service time of a batch that starts after the server sat idle."""

    max: Seconds = Field(description="extra time after a long idle spell")
    time_constant: PositiveSeconds = Field(description="after t idle a batch takes "
                                           "max x (1 - exp(-t / time_constant)) longer")

    def extra_s(self, idle_s: float) -> float:
        return self.max * -math.expm1(-idle_s / self.time_constant)


class Stalls(Section):
    """Rare moments when a busy server stops (its process descheduled, a page fault
    storm, a GC pause): a Poisson process in time."""

    every: PositiveSeconds = Field(description="mean time between stalls")
    duration: Delay = Field(description="how long a stall holds the batch in service")

    @model_validator(mode="after")
    def _finite(self):
        if self.duration.mean >= self.every:
            raise FieldError("servers.stalls.duration", f"must be shorter on average than "
                             f"stalls.every ({self.every:g} s), or a stalled batch would "
                             "never finish", self.duration.mean)
        return self


class ServersSection(Section):
    """Identical servers (model instances) fed from the one queue, and their price."""

    count: int = Field(1, ge=1, le=100_000)
    cost_per_hour: float | None = Field(None, ge=0, description="price of one server per hour")
    hardware: str | None = Field(None, description="name of the hardware: entry these "
                                 "servers run on (default: the first)")
    wakeup: Delay | None = Field(
        None, description="an idle server starts a batch this long after it is due (requests "
        "arriving meanwhile join it); one that just finished a batch starts at once")
    idle_penalty: IdlePenalty | None = Field(
        None, description="a batch started after the server idled takes longer (cold "
        "caches, deep CPU sleep states, GPU clocks ramping down)")
    stalls: Stalls | None = Field(
        None, description="a stall that strikes a busy server holds its batch that much "
        "longer; one that strikes an idle server is not noticed")


class HardwareOption(Section):
    """A machine type: its own service times and hourly price (for `batchsim plan`)."""

    name: str = Field(min_length=1)
    cost_per_hour: float = Field(ge=0)
    service: ServiceConfig


class QueueSection(Section):
    """Admission limits of the queue in front of the batcher."""

    capacity: int = Field(100_000, ge=1, description="arrivals beyond this many waiting are "
                          "rejected")
    timeout: PositiveSeconds | None = Field(None, description="a request not started within "
                                            "this is dropped")
    discipline: Discipline = Field("fifo", description="which queued request is batched "
                                   "next: fifo, priority (classes: priority) or edf "
                                   "(earliest arrival + class slo)")


class SloSection(Section):
    """The latency objective: `percentile` of latency under `latency`."""

    latency: PositiveSeconds
    percentile: float = Field(99.0, gt=0, lt=100)
