"""Building one replication's model from a scenario: stages, pools, replicas.

Owns the translation of the scenario's sections into parts. Each pipeline
stage (one stage without `stages:`) has a batching policy, a service model,
servers per replica, a `replicas:` section and optionally an `ensemble:`;
whatever a stage leaves out comes from the top-level sections. Stage s,
branch b is one pool of replicas; replicas (and their servers) are numbered
globally, stage by stage, branch by branch. Each replica gets its own
service, wake-up and stall streams (replica 0's are the single-pool ones).
"""

from __future__ import annotations

from ..model.stages import StageParts
from .answers import TaskLayout
from .batching import INF
from .disciplines import ClassQueue, ClassSpec
from .pool import Pool
from .queues import FifoQueue
from .replica import Replica
from .rng import stream
from .servers import ServerTimes, straggle_factors


def task_layout(parts: list[StageParts]) -> TaskLayout:
    return TaskLayout(tuple(p.branches for p in parts), tuple(p.needed for p in parts))


def class_specs(scenario) -> list[ClassSpec]:
    """The queue's view of each class (one default class when `classes:` is absent)."""
    queue, slo = scenario.queue, scenario.slo
    default_slo_s = slo.latency if slo else INF
    if not scenario.classes:
        return [ClassSpec(0, default_slo_s, queue.timeout, "reject", None)]
    specs = []
    for c in scenario.classes:
        policy = c.queue_policy
        timeout_s, action = policy.timeout, policy.action
        if timeout_s is None:
            timeout_s, action = queue.timeout, "reject"
        deadline_s = c.slo if c.slo is not None else default_slo_s
        specs.append(ClassSpec(c.priority, deadline_s, timeout_s, action, policy.max_queue_size))
    return specs


def make_queue(scenario, specs: list[ClassSpec], at_s):
    """A FIFO queue for one class that never delays, else the class queue."""
    if len(specs) == 1 and specs[0].action != "delay":
        return FifoQueue(at_s, specs[0].timeout_s, specs[0].max_queued)
    queue = ClassQueue(scenario.queue.discipline, specs, at_s, None)
    queue.bulk = False
    return queue


def expected_service(service, batching, factor: float = 1.0):
    """E[S(k)] of a batch of k requests (padding included), times `factor`."""

    def mean_s(size: int) -> float:
        return factor * service.mean_s(batching.charged_size(size))

    return mean_s


def build_pools(flow, scenario, parts: list[StageParts], replication: int) -> list[Replica]:
    """Every stage's pools, in task-slot order; returns all replicas, globally numbered."""
    specs = class_specs(scenario)
    faults = scenario.faults
    straggle = straggle_factors(faults.stragglers if faults else None,
                                stream(scenario.seed, replication, "faults", 1))
    replicas: list[Replica] = []
    first_server = 0
    for s, part in enumerate(parts):
        pools = []
        for b in range(part.branches):
            members = []
            for r in range(part.count):
                factor = part.replica_factors[r] * part.branch_factors[b]
                replica = _replica(flow, scenario, part, specs, len(replicas), factor,
                                   straggle, replication, fed_by_source=(s == 0))
                replica.first_server, first_server = first_server, first_server + part.servers
                members.append(replica)
                replicas.append(replica)
            pool_index = sum(len(p) for p in flow.stages) + b
            rng = stream(scenario.seed, replication, "routing", pool_index)
            pool = Pool(flow, members, part.router, rng)
            if scenario.autoscaling is not None:
                pool.start_autoscaler(scenario.autoscaling, part.active)
            pools.append(pool)
        flow.stages.append(pools)
    return replicas


def _replica(flow, scenario, part: StageParts, specs, index: int, factor: float, straggle,
             replication: int, fed_by_source: bool) -> Replica:
    queue = make_queue(scenario, specs, flow.at_s)
    if isinstance(queue, ClassQueue):
        queue.klass = flow.klass
    policy = part.batching.build()
    policy.bind_service(expected_service(part.service, part.batching, factor))
    times = ServerTimes(scenario, part.service, part.batching, part.servers, index, factor,
                        straggle, replication)
    return Replica(flow, index, queue, policy, part.servers, times, scenario.queue.capacity,
                   fed_by_source)
