"""Pipelines (`stages:`): a request passes through several stages in order.

Owns the schema of a stage (the joining of a request's stage tasks into its
end-to-end answer is `joins.py`). Each stage has its own queue, batching policy, servers
and service times (any of `batching`, `service`, `servers` left out is taken
from the scenario's top-level section); a request enters stage s+1 when its
batch at stage s finishes, and is lost if any stage rejects it or times it
out (a closed-loop user waits for the last stage). The fleet model runs it:
request j is tasks j*S .. j*S+S-1 (one per stage) in the server-side arrays,
and `per_replica` lists the stages.

```yaml
stages:
  - {name: preprocess, batching: {policy: none}, servers: {count: 4},
     service: {base: 1ms, distribution: exponential}}
  - {name: model}                       # the top-level batching, service and servers
  - {name: postprocess, batching: {policy: none}, service: {base: 200us}}
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Union

from pydantic import Field

from ..sim.batching import BATCHING_POLICIES
from ..workload.service import ServiceConfig
from .config import Section
from .topology import EnsembleSection, ReplicasSection

StageBatching = Annotated[
    Union[tuple(BATCHING_POLICIES.values())],  # noqa: UP007 - built from the registry
    Field(discriminator="policy"),
]


class StageServers(Section):
    """Servers of one stage."""

    count: int = Field(1, ge=1, le=100_000)


class StageSection(Section):
    """One stage of a pipeline; missing parts come from the top-level sections."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=50)
    batching: StageBatching | None = None
    service: ServiceConfig | None = None
    servers: StageServers | None = None
    replicas: ReplicasSection | None = Field(
        None, description="this stage is a pool of replicas behind a router (default: the "
        "top-level replicas:)")
    ensemble: EnsembleSection | None = Field(
        None, description="this stage fans out to branches (default: the top-level ensemble:)")


@dataclass(frozen=True)
class StageParts:
    """Everything one stage is built from, the top-level sections standing in for
    whatever the stage leaves out."""

    batching: object
    service: ServiceConfig
    servers: int
    count: int          # replicas per branch (max_replicas with autoscaling)
    active: int         # replicas taking requests at the start
    router: str
    replica_factors: tuple[float, ...]
    branches: int
    needed: int
    branch_factors: tuple[float, ...]


def stage_parts(scenario) -> list[StageParts]:
    """The parts of every stage (one stage without `stages:`)."""
    return [_parts(scenario, stage) for stage in scenario.stages or [None]]


def _parts(scenario, stage: StageSection | None) -> StageParts:
    def own(key: str):
        return getattr(stage, key) if stage is not None else None

    replicas = own("replicas") or scenario.replicas
    ensemble = own("ensemble") or scenario.ensemble
    scaling = scenario.autoscaling
    count = replicas.count if replicas else 1
    total = scaling.max_replicas if scaling else count
    factors = list(replicas.factors()) if replicas else [1.0]
    factors += [1.0] * (total - len(factors))
    return StageParts(
        batching=own("batching") or scenario.batching,
        service=own("service") or scenario.service,
        servers=own("servers").count if own("servers") else scenario.servers.count,
        count=total, active=count,
        router=replicas.router if replicas else "round_robin",
        replica_factors=tuple(factors[:total]),
        branches=ensemble.branches if ensemble else 1,
        needed=ensemble.needed if ensemble else 1,
        branch_factors=tuple(ensemble.factors()) if ensemble else (1.0,))
