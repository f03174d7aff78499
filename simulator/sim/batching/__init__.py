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

Layout: `base` (decisions, common knobs, registry), one module per policy, and
`segments` (batch boundaries for the policies that close batches themselves).
The policy modules are imported here in registration order, which is the order
`batchsim schema` lists them in.
"""

from __future__ import annotations

from .base import (
    BATCHING_POLICIES,
    INF,
    TIME_EPS_S,
    WAIT_FOR_ARRIVAL,
    WAIT_FOR_SERVER,
    BatchingConfig,
    BatchingPolicy,
    Dispatch,
    Wait,
    batching_policy,
    reached,
    resolve_latency_objective,
    switch_policy,
)

# Each import registers its policy: this order is the registry's, and the schema's.
# isort: off
from .none import NoBatching
from .dynamic import TritonDynamicBatcher
from .tfserving import TFServingBatcher
from .torchserve import TorchServeBatcher
from .window import WindowBatcher
from .adaptive import AdaptiveBatcher
from .slo_aware import SloAwareBatcher
# isort: on

__all__ = [
    "BATCHING_POLICIES", "INF", "TIME_EPS_S", "WAIT_FOR_ARRIVAL", "WAIT_FOR_SERVER",
    "AdaptiveBatcher", "BatchingConfig", "BatchingPolicy", "Dispatch", "NoBatching",
    "SloAwareBatcher", "TFServingBatcher", "TorchServeBatcher", "TritonDynamicBatcher",
    "Wait", "WindowBatcher", "batching_policy", "reached", "resolve_latency_objective",
    "switch_policy",
]
