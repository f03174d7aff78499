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

from typing import Annotated, Union

from pydantic import Field

from ..sim.batching import BATCHING_POLICIES
from ..workload.service import ServiceConfig
from .config import Section

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
