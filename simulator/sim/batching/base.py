"""What every batching policy shares: the decisions, the common knobs, the registry.

Owns `Dispatch` and `Wait` (the two answers of `BatchingPolicy.decide`),
`BatchingConfig` (the `batching:` knobs every policy takes), the registry
`BATCHING_POLICIES` filled by `@batching_policy("name")`, and the two rules
that look at the `batching:` section from outside a policy: `switch_policy`
(an override changed the policy) and `resolve_latency_objective`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from ...model.config import FieldError, Registry, Seconds, Section

PUBLIC_MODULE = "simulator.sim.batching"
"""The module a policy's `Config` names as its own (`__module__ = PUBLIC_MODULE` in its
body): where it is imported from, and what its name in the JSON schema (`$defs`) and in a
pickle is made of, whichever file the policy lives in. A module that does this must not use
`from __future__ import annotations`: pydantic would then look the annotations up in the
package's namespace."""
INF = float("inf")
TIME_EPS_S = 1e-9
"""Two instants closer than this are the same instant (absorbs float rounding)."""

BATCHING_POLICIES: Registry[type[BatchingConfig]] = Registry("batching policy")


@dataclass(slots=True, frozen=True)
class Dispatch:
    """Cut a batch of the `size` oldest requests now; the server is charged `charged_size`."""

    size: int
    charged_size: int


@dataclass(slots=True, frozen=True)
class Wait:
    """Ask again at `until_s`, when `until_len` requests are queued, or when a server frees."""

    until_s: float = INF
    until_len: float = INF


WAIT_FOR_SERVER = Wait()
WAIT_FOR_ARRIVAL = Wait(until_len=1)


def reached(now_s: float, deadline_s: float) -> bool:
    """True when `now_s` is at or past `deadline_s` (within float rounding)."""
    return now_s >= deadline_s - TIME_EPS_S


class BatchingConfig(Section):
    """Knobs shared by every policy (the `batching:` section)."""

    policy: str
    switch_drops: ClassVar[tuple[str, ...]] = ()
    """Common knobs a switch to this policy (an override of `batching.policy`) drops."""
    max_batch_size: int = Field(1, ge=1, le=1_000_000, description="largest batch a server takes")
    max_queue_delay: Seconds = Field(
        0.0, description="how long a batch may wait for more requests (per policy rule)"
    )
    policy_class: ClassVar[type[BatchingPolicy]]

    @property
    def largest_charged_size(self) -> int:
        """Largest batch size a server can be charged for (padding included)."""
        return self.max_batch_size

    def charged_size(self, size: int) -> int:
        return size

    def saturated_batch_size(self, rate_rps: float) -> float:
        """Mean batch size when the servers are the bottleneck at `rate_rps`: policies
        that cut batches only when a server is free then always find full ones."""
        return float(self.max_batch_size)

    def build(self) -> BatchingPolicy:
        """A fresh policy instance (its own state) for one replication."""
        return self.policy_class(self)


def batching_policy(name: str):
    """Class decorator: register a policy (and its nested Config) as `policy: name`."""

    def register(cls: type[BatchingPolicy]) -> type[BatchingPolicy]:
        cls.Config.policy_class = cls
        BATCHING_POLICIES.register(name, cls.Config)
        return cls

    return register


class BatchingPolicy:
    """Base: decision state of one replication's batcher."""

    tracks_arrivals: ClassVar[bool] = False
    learns: ClassVar[bool] = False
    """True when the policy wants `completed` after every batch (feedback policies)."""
    Config: ClassVar[type[BatchingConfig]]

    def __init__(self, config: BatchingConfig):
        self.config = config
        self.max_size = config.max_batch_size
        self.delay_s = config.max_queue_delay

    def admit(self, now_s: float) -> bool:
        """An arrival passed the queue's capacity check; False rejects it."""
        return True

    def dropped(self, count: int) -> None:
        """The `count` oldest queued requests left the queue (timed out)."""

    def requeued(self, count: int) -> None:
        """An interrupted batch of `count` went back to the head of the queue."""

    def bind_service(self, mean_service_s) -> None:
        """Told once, before the run, E[S(k)] of a batch of k (for policies that plan)."""

    def completed(self, now_s: float, size: int, service_s: float) -> None:
        """A batch of `size` finished at `now_s` after `service_s` (only if `learns`)."""

    def decide(self, now_s: float, queued: int, oldest_s: float, free: int) -> Dispatch | Wait:
        raise NotImplementedError

    def outage(self) -> None:
        """The replica's servers went down: nothing it was preparing will be cut."""

    def retract(self, action: Dispatch) -> None:
        """The `Dispatch` just decided is not cut now (an idle server must wake up first):
        undo what deciding it changed, so that the policy decides again when it is awake."""

    def _take(self, size: int) -> Dispatch:
        return Dispatch(size, self.config.charged_size(size))


def switch_policy(section: dict, previous: object, keep: set[str]) -> None:
    """After an override changed `section["policy"]` from `previous`: drop the keys the new
    policy does not take (`max_enqueued_batches` when leaving tfserving, the size and
    delay when switching to none), except those in `keep` (set by overrides too), so that
    a sweep or `--set` can go across policies. Unknown policies are left to validation."""
    config = BATCHING_POLICIES.get(section.get("policy"))
    if config is None or section.get("policy") == previous:
        return
    for key in [k for k in section if k != "policy" and k not in keep]:
        if key not in config.model_fields or key in config.switch_drops:
            del section[key]


def resolve_latency_objective(config: BatchingConfig, slo_latency_s: float | None) -> None:
    """`slo_aware` without `latency_objective` takes the scenario's slo.latency."""
    if getattr(config, "policy", None) == "slo_aware" and config.latency_objective is None:
        if slo_latency_s is None:
            raise FieldError("batching.latency_objective", "slo_aware needs a latency "
                             "objective: set it or slo.latency")
        config.latency_objective = slo_latency_s
        config.__pydantic_fields_set__.discard("latency_objective")
