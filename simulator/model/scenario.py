"""The scenario: the top-level model, loading from YAML and derived facts.

Owns the `Scenario` model (its sections come from `sections.py`, the arrival
processes, batching policies and service model from their own modules), YAML
loading with safe constructs only, the cross-section checks, and the
translation of every validation failure into one `ScenarioError` that names the
file, the dotted key and the bad value. Dotted-key overrides are in
`overrides.py`.

The `batching:` section's configs are the policies' own (`sim.batching`): a
policy and its knobs are one class, so `model` imports from `sim` here and in
`stages.py`, and `sim` imports the model; that package-level cycle is accepted.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, ValidationError, model_validator

from ..sim.batching import BATCHING_POLICIES, resolve_latency_objective
from ..workload import closed as _closed  # noqa: F401 - registers arrival.process: closed
from ..workload import superposition as _superposition  # noqa: F401 - process: superposition
from ..workload.arrivals import ARRIVAL_PROCESSES
from ..workload.service import ServiceConfig
from .autoscaling import AutoscalingSection
from .combinations import check_combinations
from .config import FieldError, Section
from .errors import ScenarioError, translate_validation_error
from .faults import FaultsSection
from .grid import SweepSection
from .network import NetworkConfig
from .overrides import apply_overrides
from .sections import HardwareOption, QueueSection, RunSection, ServersSection, SloSection
from .stages import StageSection, stage_parts
from .topology import EnsembleSection, ReplicasSection, RequestClass, check_classes
from .yaml_io import dump_yaml, load_yaml_file

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
