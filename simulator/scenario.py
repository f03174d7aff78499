"""The scenario: its schema, loading from YAML, `--set` overrides and derived facts.

Owns the top-level `Scenario` model (sections from arrivals, batching, service
and here), YAML loading with safe constructs only, dotted-key overrides, and
the translation of every validation failure into one `ScenarioError` that
names the file, the dotted key and the bad value.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from .arrivals import ARRIVAL_PROCESSES
from .batching import BATCHING_POLICIES
from .config import FieldError, PositiveSeconds, Seconds, Section
from .errors import ScenarioError, translate_validation_error
from .service import ServiceConfig
from .yaml_io import dump_yaml, load_yaml_file, parse_scalar

MAX_EXPECTED_ARRIVALS = 100_000_000
"""A replication expected to see more arrivals than this is refused up front."""

ArrivalConfig = Annotated[
    Union[tuple(ARRIVAL_PROCESSES.values())],  # noqa: UP007 - built from the registry
    Field(discriminator="process"),
]
BatchingSection = Annotated[
    Union[tuple(BATCHING_POLICIES.values())],  # noqa: UP007
    Field(discriminator="policy"),
]


class RunSection(Section):
    """How long to simulate and how many independent replications."""

    duration: PositiveSeconds | None = Field(None, description="simulated time per replication")
    requests: int | None = Field(None, ge=1, description="arrivals per replication instead")
    warmup: Seconds = Field(0.0, description="initial time excluded from every statistic")
    replications: int = Field(5, ge=1, le=10_000, description="independent seeds")

    @field_validator("warmup")
    @classmethod
    def _warmup_before_end(cls, warmup_s: float, info) -> float:
        duration_s = info.data.get("duration")
        if duration_s is not None and warmup_s >= duration_s:
            raise ValueError(f"warmup must be shorter than duration ({duration_s:g}s)")
        return warmup_s

    @model_validator(mode="after")
    def _one_length(self):
        if (self.duration is None) == (self.requests is None):
            raise FieldError("run.duration", "give exactly one of run.duration and run.requests")
        return self


class ServersSection(Section):
    """Identical servers (model instances) fed from the one queue."""

    count: int = Field(1, ge=1, le=100_000)


class QueueSection(Section):
    """Admission limits of the queue in front of the batcher."""

    capacity: int = Field(100_000, ge=1, description="arrivals beyond this many waiting are "
                          "rejected")
    timeout: PositiveSeconds | None = Field(None, description="a request not started within "
                                            "this is dropped")


class SloSection(Section):
    """The latency objective: `percentile` of latency under `latency`."""

    latency: PositiveSeconds
    percentile: float = Field(99.0, gt=0, lt=100)


class Scenario(Section):
    """A whole serving system and how to simulate it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    seed: int = Field(1, ge=0, lt=2**63)
    run: RunSection
    arrival: ArrivalConfig
    batching: BatchingSection = Field(default_factory=lambda: _default_batching())
    service: ServiceConfig
    servers: ServersSection = Field(default_factory=ServersSection)
    queue: QueueSection = Field(default_factory=QueueSection)
    slo: SloSection | None = None

    @model_validator(mode="after")
    def _cross_checks(self):
        largest = self.service.largest_table_size
        if largest is not None and self.batching.largest_charged_size > largest:
            raise FieldError("batching.max_batch_size",
                             f"batches of {self.batching.largest_charged_size} are larger than "
                             f"the largest size in service.table ({largest})",
                             self.batching.max_batch_size)
        expected = self.expected_arrivals
        if expected > MAX_EXPECTED_ARRIVALS:
            raise FieldError("run.duration", f"about {expected:.3g} arrivals per replication, "
                             f"more than the limit of {MAX_EXPECTED_ARRIVALS:.0e}",
                             self.run.duration)
        return self

    # -- loading ---------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
        """Load and validate a scenario file; `overrides` maps dotted keys to values."""
        path = Path(path)
        data = load_yaml_file(path)
        if not isinstance(data, dict):
            raise ScenarioError(str(path), None, "a scenario is a mapping of sections "
                                f"(name, run, arrival, ...), got {type(data).__name__}")
        return cls.from_dict(data, source=str(path), base_dir=path.parent, overrides=overrides)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<scenario>", base_dir: str | Path = ".",
                  overrides: dict[str, Any] | None = None) -> Scenario:
        data = apply_overrides(data, overrides or {}, source)
        try:
            return cls.model_validate(data, context={"base_dir": str(base_dir)})
        except ValidationError as exc:
            raise translate_validation_error(exc, cls, source, overrides or {}) from None

    def with_overrides(self, overrides: dict[str, Any], source: str | None = None) -> Scenario:
        """A validated copy with dotted keys replaced (`{"arrival.rate": 900}`)."""
        return Scenario.from_dict(self.to_dict(), source=source or self.name,
                                  overrides=overrides)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())

    # -- derived facts ---------------------------------------------------------------
    @property
    def capacity_rps(self) -> float:
        """Largest sustainable throughput: every server busy with full batches."""
        size = self.batching.max_batch_size
        busy_s = self.service.mean_s(self.batching.charged_size(size))
        return self.servers.count * size / busy_s

    @property
    def offered_load(self) -> float:
        """Arrival rate over capacity: at or above 1 the queue grows without bound."""
        return self.arrival.mean_rate_rps / self.capacity_rps

    @property
    def expected_arrivals(self) -> float:
        if self.run.requests is not None:
            return float(self.run.requests)
        return self.arrival.mean_rate_rps * self.run.duration

    def warnings(self) -> list[str]:
        """Things that are allowed but that a user should know before trusting numbers."""
        notes = []
        if self.offered_load >= 1:
            notes.append(
                f"offered load {self.arrival.mean_rate_rps:g} req/s is "
                f"{self.offered_load:.2f}x the capacity ({self.capacity_rps:.4g} req/s): "
                "the system is unstable, its backlog grows and steady-state figures "
                "are meaningless")
        trace_span_s = getattr(self.arrival, "span_s", None)
        if trace_span_s is not None and self.run.duration and trace_span_s < self.run.duration:
            notes.append(f"the trace ends at {trace_span_s:.6g}s, before run.duration "
                         f"({self.run.duration:g}s): no arrivals after that")
        return notes


def _default_batching():
    return BATCHING_POLICIES["none"](policy="none")


def apply_overrides(data: dict, overrides: dict[str, Any], source: str) -> dict:
    """A deep copy of `data` with each dotted key set to its value."""
    data = copy.deepcopy(data)
    for key, value in overrides.items():
        parts = key.split(".")
        if not key or any(not p for p in parts):
            raise ScenarioError(source, key, "is not a dotted key such as arrival.rate")
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ScenarioError(source, ".".join(parts[: depth + 1]),
                                    f"is a value, not a section, so {key} cannot be set", child)
            node = child
        node[parts[-1]] = value
    return data


def parse_set_options(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`["a.b=5ms", ...]` -> `{"a.b": "5ms"}`, values read as YAML scalars."""
    overrides = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError("--set", item, "expected key=value, e.g. arrival.rate=900")
        overrides[key.strip()] = parse_scalar(raw, f"--set {item}")
    return overrides
