"""Batching policies: when to cut a batch and how big, as pure decision logic.

Each policy reproduces one real batcher and writes its dispatch rule in its
docstring. A policy never touches SimPy: the engine asks `decide(now, ...)`
whenever something changed and gets back either `Dispatch(size)` (take the
`size` oldest queued requests now) or `Wait(until_s, until_len)` (ask again
at that time, when the queue reaches that length, or when a server frees).
Policies with batch state of their own (`window`, `tfserving`) also see every
admitted arrival (`admit`) and every request dropped from the head (`dropped`).

All policies share the knobs `max_batch_size` and `max_queue_delay`. Register a
new one with `@batching_policy("name")` on a class with a nested `Config`.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from ..model.config import FieldError, PositiveSeconds, Registry, Seconds, Section

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

    def retract(self, action: Dispatch) -> None:
        """The `Dispatch` just decided is not cut now (an idle server must wake up first):
        undo what deciding it changed, so that the policy decides again when it is awake."""

    def _take(self, size: int) -> Dispatch:
        return Dispatch(size, self.config.charged_size(size))


@batching_policy("none")
class NoBatching(BatchingPolicy):
    """No batching: a free server takes the oldest request alone (batch size 1)."""

    class Config(BatchingConfig):
        policy: Literal["none"]
        switch_drops = ("max_batch_size", "max_queue_delay")

        @model_validator(mode="after")
        def _one(self):
            if self.max_batch_size != 1:
                raise FieldError("batching.max_batch_size",
                                 "policy none serves one request per batch", self.max_batch_size)
            return self

    def decide(self, now_s, queued, oldest_s, free):
        if free == 0:
            return WAIT_FOR_SERVER
        return self._take(1) if queued else WAIT_FOR_ARRIVAL


@batching_policy("dynamic")
class TritonDynamicBatcher(BatchingPolicy):
    """NVIDIA Triton's dynamic batcher (server-aware).

    A batch is cut only when a server is free. Then, in this order:
    1. if `max_batch_size` requests wait, the oldest `max_batch_size` go at once;
    2. else if `preferred_batch_sizes` are set and one can be formed, the largest
       preferred size not above the queue length goes at once;
    3. else if the oldest request has waited `max_queue_delay`, all waiting go;
    4. else wait for one of those to become true.
    While every server is busy, requests accumulate; a server that frees takes up
    to `max_batch_size` at once. With `max_queue_delay: 0` this is the bulk-service
    queue M/G^[1,b]/c of queueing theory.
    """

    class Config(BatchingConfig):
        policy: Literal["dynamic"]
        preferred_batch_sizes: list[int] | None = Field(
            None, description="sizes sent at once when they can be formed (Triton)"
        )

        @model_validator(mode="after")
        def _preferred_fit(self):
            for size in self.preferred_batch_sizes or ():
                if not 1 <= size <= self.max_batch_size:
                    raise FieldError("batching.preferred_batch_sizes",
                                     f"{size} is not between 1 and max_batch_size "
                                     f"({self.max_batch_size})", size)
            return self

    def __init__(self, config):
        super().__init__(config)
        self.preferred = sorted(set(config.preferred_batch_sizes or ()))

    def decide(self, now_s, queued, oldest_s, free):
        if free == 0:
            return WAIT_FOR_SERVER
        if queued == 0:
            return WAIT_FOR_ARRIVAL
        if queued >= self.max_size:
            return self._take(self.max_size)
        next_trigger = self.max_size
        if self.preferred:
            i = bisect.bisect_right(self.preferred, queued)
            if i > 0:
                return self._take(self.preferred[i - 1])
            next_trigger = self.preferred[0]
        deadline_s = oldest_s + self.delay_s
        if reached(now_s, deadline_s):
            return self._take(queued)
        return Wait(deadline_s, next_trigger)


class _SegmentedQueue:
    """Batch boundaries over a FIFO queue: closed batches (sizes) then one open batch."""

    def __init__(self):
        self.closed: deque[int] = deque()
        self.open_size = 0
        self.open_since_s = 0.0

    def add(self, now_s: float, max_size: int) -> None:
        if self.open_size == 0:
            self.open_since_s = now_s
        self.open_size += 1
        if self.open_size == max_size:
            self.close()

    def close(self) -> None:
        self.closed.append(self.open_size)
        self.open_size = 0

    def dropped(self, count: int) -> None:
        while count and self.closed:
            taken = min(count, self.closed[0])
            count -= taken
            if taken == self.closed[0]:
                self.closed.popleft()
            else:
                self.closed[0] -= taken
        self.open_size -= count

    def requeued(self, count: int) -> None:
        """An interrupted batch is back at the head: it waits as a closed batch."""
        if count:
            self.closed.appendleft(count)

    def pop(self) -> int:
        if self.closed:
            return self.closed.popleft()
        size, self.open_size = self.open_size, 0
        return size


@batching_policy("tfserving")
class TFServingBatcher(BatchingPolicy):
    """TensorFlow Serving's batch scheduler (BasicBatchScheduler semantics).

    Arrivals fill an open batch; it closes as soon as it holds `max_batch_size`
    and waits as a closed batch. A free thread (`servers.count` plays
    `num_batch_threads`) takes the oldest closed batch, or else the open batch
    once its first request has waited `max_queue_delay` (`batch_timeout_micros`).
    At most `max_enqueued_batches` batches (the open one included) may exist: an
    arrival that needs a new batch beyond that is rejected. With
    `allowed_batch_sizes`, a batch is padded to the next allowed size and the
    server is charged for the padded size.
    """

    tracks_arrivals = True

    class Config(BatchingConfig):
        policy: Literal["tfserving"]
        max_enqueued_batches: int = Field(10, ge=1, description="batches that may wait")
        allowed_batch_sizes: list[int] | None = Field(
            None, description="sizes a batch is padded to; the last must be max_batch_size"
        )

        @model_validator(mode="after")
        def _allowed_sizes(self):
            sizes = self.allowed_batch_sizes
            if sizes is None:
                return self
            if not sizes or sizes != sorted(set(sizes)) or sizes[0] < 1:
                raise FieldError("batching.allowed_batch_sizes",
                                 "must be increasing positive sizes", sizes)
            if sizes[-1] != self.max_batch_size:
                raise FieldError("batching.allowed_batch_sizes",
                                 f"the last size must equal max_batch_size "
                                 f"({self.max_batch_size})", sizes)
            return self

        def charged_size(self, size: int) -> int:
            if not self.allowed_batch_sizes:
                return size
            return self.allowed_batch_sizes[bisect.bisect_left(self.allowed_batch_sizes, size)]

    def __init__(self, config):
        super().__init__(config)
        self.batches = _SegmentedQueue()
        self.max_batches = config.max_enqueued_batches

    def admit(self, now_s):
        b = self.batches
        if b.open_size == 0 and len(b.closed) + 1 > self.max_batches:
            return False
        b.add(now_s, self.max_size)
        return True

    def dropped(self, count):
        self.batches.dropped(count)

    def requeued(self, count):
        self.batches.requeued(count)

    def retract(self, action):
        self.batches.requeued(action.size)

    def decide(self, now_s, queued, oldest_s, free):
        b = self.batches
        if free == 0:
            return WAIT_FOR_SERVER
        if b.closed:
            return self._take(b.pop())
        if b.open_size == 0:
            return WAIT_FOR_ARRIVAL
        deadline_s = b.open_since_s + self.delay_s
        if reached(now_s, deadline_s):
            return self._take(b.pop())
        return Wait(deadline_s, queued - b.open_size + self.max_size)


@batching_policy("torchserve")
class TorchServeBatcher(BatchingPolicy):
    """TorchServe's batch aggregator.

    A worker that becomes free (one at a time, in the order they freed) takes
    the oldest waiting request, or waits for one; from that moment it collects
    more for at most `max_queue_delay` (`max_batch_delay`), and leaves at once
    when it holds `max_batch_size` (`batch_size`). Unlike Triton, the delay
    starts when the worker takes the first request, not when it arrived.
    """

    def __init__(self, config):
        super().__init__(config)
        self.collecting = False
        self.collect_since_s = 0.0

    class Config(BatchingConfig):
        policy: Literal["torchserve"]

    def decide(self, now_s, queued, oldest_s, free):
        if not self.collecting:
            if free == 0:
                return WAIT_FOR_SERVER
            if queued == 0:
                return WAIT_FOR_ARRIVAL
            self.collecting, self.collect_since_s = True, now_s
        if queued == 0:  # the request it held timed out
            self.collecting = False
            return WAIT_FOR_ARRIVAL
        deadline_s = self.collect_since_s + self.delay_s
        if queued >= self.max_size or reached(now_s, deadline_s):
            self.collecting = False
            return self._take(min(queued, self.max_size))
        return Wait(deadline_s, self.max_size)

    def retract(self, action):
        self.collecting = True  # the worker still holds what it collected


@batching_policy("window")
class WindowBatcher(BatchingPolicy):
    """A batching proxy in front of a server queue (time/size window).

    A batch opens with its first request and closes when it holds
    `max_batch_size` or `max_queue_delay` after that first arrival, whether or
    not a server is free (a request arriving exactly at the close joins the next
    batch). Closed batches queue FIFO; a free server takes the oldest.
    """

    tracks_arrivals = True

    class Config(BatchingConfig):
        policy: Literal["window"]

        def saturated_batch_size(self, rate_rps: float) -> float:
            """Batches close on time whether or not a server is free, so even an
            overloaded server gets about 1 + rate x delay requests per batch (capped)."""
            return min(float(self.max_batch_size), 1.0 + rate_rps * self.max_queue_delay)

    def __init__(self, config):
        super().__init__(config)
        self.batches = _SegmentedQueue()

    def _close_due(self, now_s: float) -> None:
        b = self.batches
        if b.open_size and reached(now_s, b.open_since_s + self.delay_s):
            b.close()

    def admit(self, now_s):
        self._close_due(now_s)
        self.batches.add(now_s, self.max_size)
        return True

    def dropped(self, count):
        self.batches.dropped(count)

    def requeued(self, count):
        self.batches.requeued(count)

    def retract(self, action):
        self.batches.requeued(action.size)

    def decide(self, now_s, queued, oldest_s, free):
        self._close_due(now_s)
        b = self.batches
        if free == 0:
            return WAIT_FOR_SERVER
        if b.closed:
            return self._take(b.pop())
        if b.open_size == 0:
            return WAIT_FOR_ARRIVAL
        return Wait(b.open_since_s + self.delay_s, queued - b.open_size + self.max_size)


@batching_policy("adaptive")
class AdaptiveBatcher(BatchingPolicy):
    """Clipper's adaptive batching (AIMD on the batch-size cap).

    A free server takes up to `cap` waiting requests: at once if `cap` wait,
    else all waiting once the oldest has waited `max_queue_delay` (0: at once,
    as Clipper does). When a batch of size >= cap finishes within
    `latency_objective`, the cap grows by `additive_increase` (up to
    `max_batch_size`); when any batch takes longer, the cap is cut to
    floor(cap x (1 - `multiplicative_decrease`)), at least 1. A batch smaller
    than the cap says nothing about the cap and leaves it alone. The cap in
    force when each batch was cut is kept (`cap_history`, then the record's
    `batch_cap`) for the timeline plot.
    """

    learns = True

    class Config(BatchingConfig):
        policy: Literal["adaptive"]
        latency_objective: PositiveSeconds = Field(
            description="a batch's service time above this cuts the cap")
        additive_increase: int = Field(1, ge=1, description="cap growth after a batch "
                                       "that was at the cap and met the objective")
        multiplicative_decrease: float = Field(0.1, gt=0, lt=1, description="fraction of "
                                               "the cap removed after a batch that missed")
        initial_cap: int = Field(1, ge=1, description="cap at the start of the run")

        @model_validator(mode="after")
        def _initial_fits(self):
            if self.initial_cap > self.max_batch_size:
                raise FieldError("batching.initial_cap", f"larger than max_batch_size "
                                 f"({self.max_batch_size})", self.initial_cap)
            return self

    def __init__(self, config):
        super().__init__(config)
        self.cap = config.initial_cap
        self.objective_s = config.latency_objective
        self.cap_history: list[int] = []

    def completed(self, now_s, size, service_s):
        cfg = self.config
        if service_s > self.objective_s:
            self.cap = max(1, int(self.cap * (1.0 - cfg.multiplicative_decrease)))
        elif size >= self.cap:
            self.cap = min(self.max_size, self.cap + cfg.additive_increase)

    def decide(self, now_s, queued, oldest_s, free):
        if free == 0:
            return WAIT_FOR_SERVER
        if queued == 0:
            return WAIT_FOR_ARRIVAL
        cap = self.cap
        deadline_s = oldest_s + self.delay_s
        if queued >= cap or reached(now_s, deadline_s):
            self.cap_history.append(cap)
            return self._take(min(queued, cap))
        return Wait(deadline_s, cap)

    def retract(self, action):
        self.cap_history.pop()


@batching_policy("slo_aware")
class SloAwareBatcher(BatchingPolicy):
    """Deadline-aware batching (Clockwork/Nexus style): wait only while it is safe.

    The oldest waiting request must finish by its arrival + `latency_objective`
    - `slack` (a margin for service-time noise and for the requests that queue
    behind the batch; 0 plans on the mean alone).
    With E[S(k)] the expected service time of a batch of k (from `service:`),
    a free server with q waiting:
    1. takes `max_batch_size` at once if that many wait;
    2. else takes the largest m <= q with now + E[S(m)] <= deadline at once if
       m < q (a newcomer would make the oldest miss);
    3. else, when no size fits, the oldest cannot finish in time: it never
       waits, the q waiting go at once;
    4. else (all q fit) waits for one more arrival, at most until
       deadline - E[S(q)] (the last moment the q can still make it), or until
       the oldest has waited `max_queue_delay` when that is above 0.
    """

    class Config(BatchingConfig):
        policy: Literal["slo_aware"]
        latency_objective: PositiveSeconds | None = Field(
            None, description="deadline of each request after its arrival (default: "
            "slo.latency)")
        slack: Seconds = Field(0.0, description="plan to finish this long before the "
                               "deadline")

    def __init__(self, config):
        super().__init__(config)
        self.objective_s = config.latency_objective
        self.expected_s = None

    def bind_service(self, mean_service_s) -> None:
        """Learn E[S(k)], the expected service time of a batch of k requests."""
        self.expected_s = mean_service_s

    def decide(self, now_s, queued, oldest_s, free):
        if free == 0:
            return WAIT_FOR_SERVER
        if queued == 0:
            return WAIT_FOR_ARRIVAL
        if queued >= self.max_size:
            return self._take(self.max_size)
        deadline_s = oldest_s + self.objective_s - self.config.slack
        expected_s = self.expected_s
        fits = queued
        while fits and now_s + expected_s(fits) > deadline_s + TIME_EPS_S:
            fits -= 1
        if fits == 0:
            return self._take(queued)
        if fits < queued:
            return self._take(fits)
        until_s = deadline_s - expected_s(queued)
        if self.delay_s > 0:
            until_s = min(until_s, oldest_s + self.delay_s)
        if reached(now_s, until_s):
            return self._take(queued)
        return Wait(until_s, queued + 1)


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
