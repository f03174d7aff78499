"""The scenario: its schema, loading from YAML, `--set` overrides and derived facts.

Owns the top-level `Scenario` model (sections from arrivals, batching, service
and here), YAML loading with safe constructs only, dotted-key overrides, and
the translation of every validation failure into one `ScenarioError` that
names the file, the dotted key and the bad value.
"""

from __future__ import annotations

import copy
import difflib
import math
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from ..sim.batching import BATCHING_POLICIES, resolve_latency_objective, switch_policy
from ..workload import closed as _closed  # noqa: F401 - registers arrival.process: closed
from ..workload import superposition as _superposition  # noqa: F401 - process: superposition
from ..workload.arrivals import ARRIVAL_PROCESSES
from ..workload.service import ServiceConfig
from .autoscaling import AutoscalingSection
from .combinations import check_combinations
from .config import FieldError, PositiveSeconds, Seconds, Section
from .delays import Delay
from .errors import ScenarioError, translate_validation_error
from .faults import FaultsSection
from .grid import SweepSection
from .network import NetworkConfig
from .stages import StageSection, stage_parts
from .topology import Discipline, EnsembleSection, ReplicasSection, RequestClass, check_classes
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


class Scenario(Section):
    """A whole serving system and how to simulate it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    seed: int = Field(1, ge=0, lt=2**63)
    run: RunSection
    arrival: ArrivalConfig
    batching: BatchingSection = Field(default_factory=lambda: _default_batching())
    service: ServiceConfig | None = None
    servers: ServersSection = Field(default_factory=ServersSection)
    hardware: list[HardwareOption] | None = Field(
        None, description="machine types to choose from; servers.hardware picks one")
    queue: QueueSection = Field(default_factory=QueueSection)
    slo: SloSection | None = None
    network: NetworkConfig | None = Field(
        None, description="client <-> server network: delay, lost attempts, retries")
    sweep: SweepSection | None = Field(
        None, description="grids for `batchsim sweep` (ignored by `batchsim run`)")
    replicas: ReplicasSection | None = Field(
        None, description="independent replicas behind a router (see topology)")
    classes: list[RequestClass] | None = Field(
        None, description="request classes: share of arrivals, slo, priority, queue policy")
    autoscaling: AutoscalingSection | None = Field(
        None, description="add or retire replicas by outstanding requests per replica")
    faults: FaultsSection | None = Field(
        None, description="replica outages (given or MTBF/MTTR) and straggling batches")
    stages: list[StageSection] | None = Field(
        None, description="pipeline stages in order, each with its own batching, service "
        "and servers (defaults: the top-level sections)")
    ensemble: EnsembleSection | None = Field(
        None, description="fork-join: each request served by every branch, answered when "
        "all (or the first k) have answered")

    @model_validator(mode="after")
    def _cross_checks(self):
        self._pick_hardware()
        resolve_latency_objective(self.batching, self.slo.latency if self.slo else None)
        if self.stages is not None and not self.stages:
            raise FieldError("stages", "give one or more stages", self.stages)
        self._check_autoscaling()
        if self.faults is not None:
            self.faults.check_replicas(sum(p.count * p.branches for p in stage_parts(self)))
        streams = getattr(self.arrival, "streams", None)
        check_classes(self.classes, self.queue.discipline, self.slo.latency if self.slo else None,
                      len(streams) if streams is not None else None)
        check_combinations(self)
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

    def _check_autoscaling(self) -> None:
        scaling, replicas = self.autoscaling, self.replicas
        factors = replicas.service_time_factor if replicas else None
        if factors is not None:
            wanted = {replicas.count} | ({scaling.max_replicas} if scaling else set())
            if len(factors) not in wanted:
                raise FieldError("replicas.service_time_factor", "needs one entry per replica "
                                 f"({' or '.join(map(str, sorted(wanted)))}: the replicas it "
                                 "can grow to), got " + str(len(factors)), factors)
        pool = scaling.max_replicas if scaling else replicas.count if replicas else 1
        if replicas is not None and replicas.router == "power_of_two" and pool < 2:
            raise FieldError("replicas.router", "power_of_two needs at least 2 replicas",
                             replicas.router)
        if scaling is None:
            return
        if replicas is None:
            raise FieldError("autoscaling", "needs replicas: (its count is the starting "
                             "number)")
        if not scaling.min_replicas <= replicas.count <= scaling.max_replicas:
            raise FieldError("replicas.count", f"must be between autoscaling.min_replicas "
                             f"({scaling.min_replicas}) and max_replicas "
                             f"({scaling.max_replicas})", replicas.count)

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

    def _pick_hardware(self) -> None:
        """With `hardware:`, the service times come from the chosen machine type."""
        if not self.hardware:
            if self.service is None:
                raise FieldError("service", "required key is missing (or give hardware:)")
            if self.servers.hardware is not None:
                raise FieldError("servers.hardware", "no hardware: list to choose from",
                                 self.servers.hardware)
            return
        if self.service is not None:
            raise FieldError("service", "give service: or hardware:, not both (each hardware "
                             "entry has its own service)")
        names = [h.name for h in self.hardware]
        if len(set(names)) != len(names):
            raise FieldError("hardware", "hardware names must be unique", names)
        chosen = self.servers.hardware or names[0]
        if chosen not in names:
            close = difflib.get_close_matches(chosen, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (one of: {', '.join(names)})"
            raise FieldError("servers.hardware", f"unknown hardware{hint}", chosen)
        self.service = self.hardware[names.index(chosen)].service

    @property
    def machine(self) -> HardwareOption | None:
        """The hardware entry in use, if the scenario lists machine types."""
        if not self.hardware:
            return None
        chosen = self.servers.hardware or self.hardware[0].name
        return next(h for h in self.hardware if h.name == chosen)

    @property
    def server_cost_per_hour(self) -> float | None:
        """Hourly price of one server: the hardware's, else servers.cost_per_hour."""
        return self.machine.cost_per_hour if self.machine else self.servers.cost_per_hour

    def to_dict(self) -> dict:
        exclude = {"service"} if self.hardware else None
        return self.model_dump(mode="json", exclude_none=True, exclude=exclude)

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())

    # -- derived facts ---------------------------------------------------------------
    @property
    def capacity_rps(self) -> float:
        """Largest sustainable throughput: every server of the slowest stage busy with
        full batches (window batching: the batches it closes at this load)."""
        rate_rps = math.inf if self.is_closed_loop else self.arrival.mean_rate_rps
        return min(_stage_capacity_rps(part, rate_rps) for part in stage_parts(self))

    @property
    def is_closed_loop(self) -> bool:
        """True with `arrival.process: closed` (users, not a rate, drive the arrivals)."""
        return getattr(self.arrival, "closed", False)

    @property
    def offered_load(self) -> float:
        """Arrival rate over capacity: at or above 1 the queue grows without bound."""
        return self.arrival.mean_rate_rps / self.capacity_rps

    @property
    def expected_arrivals(self) -> float:
        if self.run.requests is not None:
            return float(self.run.requests)
        if self.is_closed_loop:
            return min(self.arrival.mean_rate_rps, self.capacity_rps) * self.run.duration
        return self.arrival.mean_rate_rps * self.run.duration

    def warnings(self) -> list[str]:
        """Things that are allowed but that a user should know before trusting numbers."""
        notes = []
        if self.offered_load >= 1 and not self.is_closed_loop:
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


def _stage_capacity_rps(part, rate_rps: float) -> float:
    size = part.batching.saturated_batch_size(rate_rps)
    busy_s = part.service.mean_s(part.batching.charged_size(size))
    speed = sum(1 / f for f in part.replica_factors) / max(part.branch_factors)
    return speed * part.servers * size / busy_s


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
        previous = node.get(parts[-1])
        node[parts[-1]] = value
        if parts[-2:] == ["batching", "policy"]:
            prefix = key[: -len("policy")]
            switch_policy(node, previous, {k[len(prefix):] for k in overrides
                                           if k.startswith(prefix)})
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
