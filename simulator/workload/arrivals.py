"""Arrival processes: each is one schema class that knows its mean rate and CV
and generates its arrival times with numpy, before the simulation starts.

Generating the whole workload up front (from its own random stream) means every
batching policy, server count or queue setting sees the very same arrivals.
Register a new process with `@arrival_process("name")`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from ..model.config import FieldError, PositiveSeconds, Registry, Section
from .traces import read_trace_s

ARRIVAL_PROCESSES: Registry[type[ArrivalProcess]] = Registry("arrival process")


def arrival_process(name: str):
    """Class decorator: register an arrival process under `process: name`."""

    def register(cls):
        return ARRIVAL_PROCESSES.register(name, cls)

    return register


class ArrivalProcess(Section):
    """Base: subclasses define `process`, `mean_rate_rps` and `_gaps_s` or `times_s`."""

    process: str
    renewal: ClassVar[bool] = True

    @property
    def mean_rate_rps(self) -> float:
        raise NotImplementedError

    @property
    def interarrival_cv(self) -> float:
        raise NotImplementedError

    def _gaps_s(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    def times_s(
        self, rng: np.random.Generator, horizon_s: float | None = None, n: int | None = None
    ) -> np.ndarray:
        """Sorted arrival times: all those before `horizon_s`, or the first `n`."""
        if n is not None:
            return np.cumsum(self._gaps_s(rng, n))
        return _renewal_until(lambda k: self._gaps_s(rng, k), self.mean_rate_rps, horizon_s)


def _renewal_until(draw_gaps, rate_rps: float, horizon_s: float) -> np.ndarray:
    """Cumulative sums of gap chunks until the horizon is passed; times < horizon kept."""
    chunk = int(rate_rps * horizon_s * 1.05) + 64
    pieces, last_s = [], 0.0
    while last_s < horizon_s:
        times = last_s + np.cumsum(draw_gaps(chunk))
        pieces.append(times)
        last_s = float(times[-1])
    times = np.concatenate(pieces)
    return times[times < horizon_s]


@arrival_process("poisson")
class PoissonArrivals(ArrivalProcess):
    """Poisson process: exponential gaps of mean 1/rate (CV 1)."""

    process: Literal["poisson"]
    rate: float = Field(gt=0, description="mean arrivals per second")

    @property
    def mean_rate_rps(self) -> float:
        return self.rate

    @property
    def interarrival_cv(self) -> float:
        return 1.0

    def _gaps_s(self, rng, n):
        return rng.exponential(1.0 / self.rate, n)


@arrival_process("constant")
class ConstantArrivals(ArrivalProcess):
    """Deterministic arrivals exactly 1/rate apart (CV 0)."""

    process: Literal["constant"]
    rate: float = Field(gt=0, description="arrivals per second")

    @property
    def mean_rate_rps(self) -> float:
        return self.rate

    @property
    def interarrival_cv(self) -> float:
        return 0.0

    def times_s(self, rng, horizon_s=None, n=None):
        count = n if n is not None else math.ceil(horizon_s * self.rate) + 1
        times = np.arange(1, count + 1) / self.rate
        return times if n is not None else times[times < horizon_s]


@arrival_process("gamma")
class GammaArrivals(ArrivalProcess):
    """Renewal process with gamma gaps: cv < 1 smoother than Poisson, cv > 1 burstier."""

    process: Literal["gamma"]
    rate: float = Field(gt=0, description="mean arrivals per second")
    cv: float = Field(ge=0, le=100, description="coefficient of variation of the gaps")

    @property
    def mean_rate_rps(self) -> float:
        return self.rate

    @property
    def interarrival_cv(self) -> float:
        return self.cv

    def _gaps_s(self, rng, n):
        if self.cv == 0:
            return np.full(n, 1.0 / self.rate)
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, 1.0 / (self.rate * shape), n)


@arrival_process("onoff")
class OnOffArrivals(ArrivalProcess):
    """Two-state Markov-modulated Poisson process (MMPP-2).

    The source alternates between an `on` state (Poisson at `rate_on`) and an
    `off` state (Poisson at `rate_off`, often 0); the time spent in each is
    exponential with mean `mean_on` / `mean_off`. Starts in its stationary state.
    """

    process: Literal["onoff"]
    rate_on: float = Field(ge=0, description="arrivals per second while on")
    rate_off: float = Field(0.0, ge=0, description="arrivals per second while off")
    mean_on: PositiveSeconds
    mean_off: PositiveSeconds
    renewal: ClassVar[bool] = False

    @model_validator(mode="after")
    def _some_traffic(self):
        if self.mean_rate_rps <= 0:
            raise FieldError("arrival.rate_on", "rate_on and rate_off are both 0", self.rate_on)
        return self

    @property
    def mean_rate_rps(self) -> float:
        total_s = self.mean_on + self.mean_off
        return (self.rate_on * self.mean_on + self.rate_off * self.mean_off) / total_s

    @property
    def interarrival_cv(self) -> float:
        """Exact CV of the stationary interarrival time (MMPP-2 as a phase-type law)."""
        d0, d1 = self.generators()
        theta = np.array([self.mean_on, self.mean_off]) / (self.mean_on + self.mean_off)
        pi = theta @ d1 / (theta @ d1).sum()
        inv = np.linalg.inv(-d0)
        m1 = pi @ inv @ np.ones(2)
        m2 = 2 * pi @ inv @ inv @ np.ones(2)
        return float(math.sqrt(m2 - m1**2) / m1)

    def generators(self) -> tuple[np.ndarray, np.ndarray]:
        """(D0, D1) of the MMPP: state 0 = on, state 1 = off."""
        a, b = 1.0 / self.mean_on, 1.0 / self.mean_off
        d1 = np.diag([self.rate_on, self.rate_off])
        d0 = np.array([[-a, a], [b, -b]]) - d1
        return d0, d1

    def times_s(self, rng, horizon_s=None, n=None):
        pieces, start_s, count = [], 0.0, 0
        on = rng.random() < self.mean_on / (self.mean_on + self.mean_off)
        while (horizon_s is not None and start_s < horizon_s) or (n is not None and count < n):
            stay_s = rng.exponential(self.mean_on if on else self.mean_off)
            rate = self.rate_on if on else self.rate_off
            k = rng.poisson(rate * stay_s)
            pieces.append(np.sort(start_s + stay_s * rng.random(k)))
            count += k
            start_s, on = start_s + stay_s, not on
        times = np.concatenate(pieces) if pieces else np.empty(0)
        return times[:n] if n is not None else times[times < horizon_s]


@arrival_process("trace")
class TraceArrivals(ArrivalProcess):
    """Replay of recorded arrival timestamps from a CSV file.

    `path` is relative to the scenario file. `column` is a header name or a
    0-based index; it holds numbers (in `time_unit`) or datetimes such as the
    Azure LLM traces' `2023-11-16 18:17:03.9799600`. The trace is shifted to
    start at t=0. `scale_to_rate` stretches or compresses time so the mean rate
    is the one given (the shape of the bursts is kept). Every replication
    replays the same arrivals; only the service noise differs.
    """

    process: Literal["trace"]
    path: str = Field(min_length=1)
    column: str | int = 0
    time_unit: Literal["s", "ms", "us", "ns"] = "s"
    scale_to_rate: float | None = Field(None, gt=0)
    renewal: ClassVar[bool] = False
    _times_s: np.ndarray = PrivateAttr()

    @field_validator("path")
    @classmethod
    def _resolve(cls, path: str, info: ValidationInfo) -> str:
        base = Path((info.context or {}).get("base_dir", "."))
        resolved = (base / path).resolve()
        if not resolved.is_file():
            raise ValueError(f"trace file {resolved} not found")
        return str(resolved)

    @model_validator(mode="after")
    def _load(self):
        try:
            times_s = read_trace_s(Path(self.path), self.column, self.time_unit)
        except ValueError as exc:
            raise FieldError("arrival.path", str(exc), self.path) from None
        observed_rps = _observed_rate(times_s)  # refuses a trace without two timestamps
        if self.scale_to_rate is not None:
            times_s = times_s * (observed_rps / self.scale_to_rate)
        self._times_s = times_s
        return self

    @property
    def mean_rate_rps(self) -> float:
        return self.scale_to_rate or _observed_rate(self._times_s)

    @property
    def interarrival_cv(self) -> float:
        gaps = np.diff(self._times_s)
        return float(gaps.std() / gaps.mean()) if gaps.size > 1 and gaps.mean() > 0 else 0.0

    @property
    def span_s(self) -> float:
        return float(self._times_s[-1])

    @property
    def count(self) -> int:
        return int(self._times_s.size)

    def times_s(self, rng, horizon_s=None, n=None):
        if n is not None:
            return self._times_s[:n].copy()
        return self._times_s[self._times_s < horizon_s].copy()


def _observed_rate(times_s: np.ndarray) -> float:
    span_s = float(times_s[-1] - times_s[0]) if times_s.size > 1 else 0.0
    if span_s <= 0:
        raise FieldError("arrival.path", "trace needs at least two distinct timestamps")
    return (times_s.size - 1) / span_s
