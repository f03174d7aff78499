"""Service time of a batch: mean as a function of batch size, times random noise.

Owns the `service:` section of a scenario and the sampler the servers draw
from. No SimPy here: a batch of k requests takes `mean_s(k) * factor`, with
`mean_s(k) = base + per_item * k` or a measured table (linear interpolation),
and `factor` a random number of mean 1 (deterministic, gamma or lognormal
with the given cv, which a table may set per batch size). `exponential` makes
the whole batch time exponential with mean `mean_s(k)`; `empirical` resamples
measured times from `samples_file` (see `service_samples`). Lognormal noise
may be correlated between successive batches (`noise_correlation`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, PrivateAttr, Strict, ValidationInfo, field_validator, model_validator

from ..model.config import FieldError, PositiveSeconds, Seconds, Section
from ..model.errors import ScenarioError
from ..model.network import OverheadConfig
from ..sim.rng import chunked
from .service_samples import factors_by_size, read_samples, sample_means

Distribution = Literal["deterministic", "exponential", "gamma", "lognormal", "empirical"]
BatchSize = Annotated[int, Strict(False), Field(ge=1)]


class TableEntry(Section):
    """One measured batch size: its mean time and, optionally, its own noise cv."""

    mean: PositiveSeconds
    cv: float | None = Field(None, ge=0, le=10, description="noise cv at this size "
                             "(default: service.cv)")


class ServiceFit(Section):
    """Informational: the least-squares line through a measured table (`batchsim profile`).

    The simulator uses the table itself; the fit says how well `base + per_item * k`
    would describe it.
    """

    base: Seconds
    per_item: Seconds
    r2: float = Field(ge=-1e9, le=1)


class ServiceConfig(Section):
    """The `service:` section: batch service time = mean(k) x noise."""

    base: Seconds = Field(0.0, description="fixed time of every batch (occupies the server)")
    per_item: Seconds = Field(0.0, description="extra time per request in the batch")
    table: dict[BatchSize, PositiveSeconds | TableEntry] | None = Field(
        None, description="measured mean time (or {mean, cv}) by batch size, interpolated "
        "linearly between sizes")
    table_file: str | None = Field(
        None, description="YAML file whose `service:` mapping (e.g. written by batchsim "
        "profile) is read first; keys given here override it. Relative to the scenario file.")
    fit: ServiceFit | None = None
    distribution: Distribution = "deterministic"
    cv: float = Field(0.0, ge=0, le=10, description="coefficient of variation of the noise")
    noise_correlation: float = Field(
        0.0, ge=0, lt=1, description="lognormal only: correlation of the noise of successive "
        "batches (AR(1) on the log scale; measured servers have slow and fast spells)")
    samples_file: str | None = Field(
        None, description="CSV of measured batch times (batch_size,service_s) that "
        "distribution: empirical resamples. Relative to the scenario file.")
    _samples: dict[int, np.ndarray] | None = PrivateAttr(None)
    overhead: OverheadConfig | None = Field(
        None, description="per-request delays outside the server (do not occupy it)")

    @model_validator(mode="before")
    @classmethod
    def _include_table_file(cls, data, info: ValidationInfo):
        if not isinstance(data, dict) or not data.get("table_file"):
            return data
        base_dir = Path((info.context or {}).get("base_dir", "."))
        included = read_service_file(base_dir / str(data["table_file"]))
        return {**included, **{k: v for k, v in data.items() if k != "table_file"}}

    @field_validator("samples_file")
    @classmethod
    def _resolve_samples_file(cls, path: str | None, info: ValidationInfo) -> str | None:
        if path is None:
            return None
        return str((Path((info.context or {}).get("base_dir", ".")) / path).resolve())

    @model_validator(mode="after")
    def _consistent(self):
        self._load_samples()
        if self.table is not None and (self.base or self.per_item):
            raise FieldError("service.table", "give either table or base/per_item, not both")
        if self.table is None and self.base + self.per_item <= 0:
            raise FieldError("service.base", "a batch must take some time: base + per_item > 0",
                             self.base)
        if self.table is not None and not self.table:
            raise FieldError("service.table", "table is empty", self.table)
        if self.distribution == "deterministic" and self.largest_cv > 0:
            raise FieldError("service.cv", "deterministic service has no noise: drop cv or "
                             "choose gamma or lognormal", self.largest_cv)
        if self.distribution == "exponential" and self.largest_cv not in (0.0, 1.0):
            raise FieldError("service.cv", "exponential service has cv 1", self.largest_cv)
        if self.noise_correlation and self.distribution != "lognormal":
            raise FieldError("service.noise_correlation", "only lognormal noise can be "
                             "correlated", self.noise_correlation)
        if self.distribution == "empirical" and self.largest_cv > 0:
            raise FieldError("service.cv", "empirical service takes its noise from "
                             "samples_file: drop cv", self.largest_cv)
        return self

    def _load_samples(self) -> None:
        """With `empirical`: read samples_file; its per-size means are the table if none."""
        if (self.distribution == "empirical") != (self.samples_file is not None):
            raise FieldError("service.samples_file", "give samples_file exactly when "
                             "distribution is empirical", self.samples_file)
        if self.samples_file is None:
            return
        self._samples = read_samples(Path(self.samples_file))
        if self.table is None and not (self.base or self.per_item):
            self.table = sample_means(self._samples)

    @property
    def largest_table_size(self) -> int | None:
        return max(self.table) if self.table else None

    @property
    def largest_cv(self) -> float:
        sizes = [e.cv for e in (self.table or {}).values() if isinstance(e, TableEntry) and e.cv]
        return max([self.cv, *sizes])

    def _column(self, pick) -> tuple[list[int], list[float]]:
        sizes = sorted(self.table)
        return sizes, [pick(self.table[k]) for k in sizes]

    def mean_s(self, batch_size: int) -> float:
        """Mean service time of a batch of `batch_size` requests."""
        if self.table is None:
            return self.base + self.per_item * batch_size
        sizes, means = self._column(lambda e: e.mean if isinstance(e, TableEntry) else e)
        return float(np.interp(batch_size, sizes, means))

    def cv_at(self, batch_size: int) -> float:
        """Noise cv of a batch of `batch_size` (per-size cvs interpolated like the means)."""
        if self.distribution == "exponential":
            return 1.0
        if self.table is None:
            return self.cv
        sizes, cvs = self._column(
            lambda e: e.cv if isinstance(e, TableEntry) and e.cv is not None else self.cv)
        return float(np.interp(batch_size, sizes, cvs))

    @property
    def noise_cv(self) -> float:
        return 1.0 if self.distribution == "exponential" else self.cv


def read_service_file(path: Path) -> dict:
    """The `service:` mapping of a YAML file (or the whole file if it is that mapping)."""
    from ..model.yaml_io import load_yaml_file

    try:
        data = load_yaml_file(path)
    except ScenarioError as exc:
        raise FieldError("service.table_file", exc.message, str(path)) from None
    if isinstance(data, dict) and isinstance(data.get("service"), dict):
        data = data["service"]
    if not isinstance(data, dict):
        raise FieldError("service.table_file", "expected a service: mapping", str(path))
    data.pop("table_file", None)
    return data


class ServiceSampler:
    """Draws batch service times for one replication from its own random stream."""

    def __init__(self, config: ServiceConfig, rng: np.random.Generator, max_size: int):
        sizes = range(1, max_size + 1)
        self.mean_by_size_s = [0.0] + [config.mean_s(k) for k in sizes]
        self._draw = None
        cvs = [config.cv_at(k) for k in sizes]
        if config.distribution == "empirical":
            self._draw = _empirical_factor(rng, factors_by_size(config._samples, max_size))
        elif config.distribution == "exponential":
            self._draw = chunked(lambda n: rng.exponential(1.0, n))
        elif config.distribution == "lognormal" and max(cvs) > 0:
            sigmas = [math.sqrt(math.log1p(cv**2)) for cv in cvs]
            self._draw = _lognormal_factor(rng, [0.0, *sigmas], config.noise_correlation)
        elif config.distribution == "gamma" and max(cvs) > 0:
            self._draw = _gamma_factor(rng, [0.0, *cvs])

    def sample_s(self, batch_size: int) -> float:
        """Service time of the next batch, which has `batch_size` (charged) requests."""
        if self._draw is None:
            return self.mean_by_size_s[batch_size]
        return self.mean_by_size_s[batch_size] * self._draw(batch_size)


def _lognormal_factor(rng: np.random.Generator, sigma_by_size: list[float],
                      correlation: float = 0.0):
    """Lognormal factors of mean 1, cv chosen by batch size, from one normal stream.

    With `correlation` rho > 0 the underlying normals form an AR(1) sequence
    z_n = rho z_{n-1} + sqrt(1 - rho^2) e_n over successive batches (stationary,
    started in its stationary law), so each factor keeps its lognormal law.
    """
    normal = chunked(lambda n: rng.standard_normal(n))
    if correlation == 0:
        def factor(size: int) -> float:
            sigma = sigma_by_size[size]
            return math.exp(sigma * normal() - sigma * sigma / 2)

        return factor
    innovation = math.sqrt(1 - correlation * correlation)
    state = [normal()]

    def correlated_factor(size: int) -> float:
        z = state[0] = correlation * state[0] + innovation * normal()
        sigma = sigma_by_size[size]
        return math.exp(sigma * z - sigma * sigma / 2)

    return correlated_factor


def _empirical_factor(rng: np.random.Generator, factors_by_size: list[np.ndarray]):
    """Measured factors of mean 1 for each size, resampled uniformly (one uniform stream)."""
    uniform = chunked(lambda n: rng.random(n))

    def factor(size: int) -> float:
        factors = factors_by_size[size]
        return float(factors[int(uniform() * factors.size)])

    return factor


def _gamma_factor(rng: np.random.Generator, cv_by_size: list[float]):
    """Gamma factors of mean 1, cv chosen by batch size (one stream; one chunk per cv)."""
    streams = {}

    def factor(size: int) -> float:
        cv = cv_by_size[size]
        if cv == 0:
            return 1.0
        if cv not in streams:
            shape = 1.0 / cv**2
            streams[cv] = chunked(lambda n, k=shape: rng.gamma(k, 1.0 / k, n))
        return streams[cv]()

    return factor
