"""Freezing one replication's state into a `ReplicationRecord` at the end of the run.

Owns the last admissions and timeouts up to the end, the outcome of every task
(completed once its batch finished) and the optional arrays: replicas,
classes, the `adaptive` batch cap and the autoscaling step functions.
"""

from __future__ import annotations

import numpy as np

from .records import ReplicationRecord


def freeze(flow, scenario, replicas: list, replication: int, end_s: float) -> ReplicationRecord:
    """What happened up to `end_s`, as arrays."""
    flow.catch_up(end_s)
    for replica in replicas:
        if replica.queue.timed:
            replica._expire(end_s)
    _to_numpy(flow)
    ledger = flow.ledger
    batch = ledger.task_batches(len(flow.arrival_s))
    ledger.mark_completed(batch, flow.outcome)
    counts = [r.servers for r in replicas]
    classes = scenario.classes
    grouped = bool(scenario.replicas or scenario.ensemble or scenario.stages
                   or scenario.autoscaling)
    if grouped:
        _fill_single_replica_pools(flow)
    return ReplicationRecord(
        replication=replication, warmup_s=scenario.run.fixed_warmup_s, end_s=end_s,
        servers=sum(counts), timeout_s=scenario.queue.timeout,
        arrival_s=flow.arrival_s, batch=batch, outcome=flow.outcome, **ledger.arrays(),
        replicas=len(replicas) if grouped else 1,
        replica_servers=tuple(counts) if grouped else None,
        replica=flow.replica_of if grouped else None,
        batch_replica=np.frombuffer(ledger.replica, dtype=np.int32).copy() if grouped else None,
        request_class=flow.klass if classes else None,
        class_names=tuple(c.name for c in classes) if classes else None,
        class_slo_s=tuple(c.slo for c in classes) if classes else None,
        batch_cap=_cap_history(replicas, ledger),
        scaling=_scaling_arrays(flow, scenario))


def _to_numpy(flow) -> None:
    """Closed loop: the growing arrays become numpy arrays."""
    if isinstance(flow.arrival_s, np.ndarray):
        return
    flow.arrival_s = np.frombuffer(flow.arrival_s, dtype=float).copy()
    flow.outcome = np.frombuffer(flow.outcome, dtype=np.int8).copy()
    flow.klass = np.frombuffer(flow.klass, dtype=np.int16).copy()
    flow.replica_of = np.frombuffer(flow.replica_of, dtype=np.int32).copy()


def _fill_single_replica_pools(flow) -> None:
    """Tasks of a pool of one replica were never routed: they are that replica's."""
    per = flow.per_request
    slot = 0
    for pools in flow.stages:
        for pool in pools:
            if pool.single:
                tasks = flow.replica_of[slot::per]
                arrived = ~np.isnan(flow.arrival_s[slot::per])
                tasks[arrived] = pool.replicas[0].index
            slot += 1


def _cap_history(replicas: list, ledger) -> np.ndarray | None:
    """Each batch's cap under `adaptive` batching, from its replica's policy."""
    histories = [getattr(r.policy, "cap_history", None) for r in replicas]
    if histories[0] is None:
        return None
    if len(replicas) == 1:
        return np.asarray(histories[0], dtype=np.int64)
    batch_replica = np.frombuffer(ledger.replica, dtype=np.int32)
    caps = np.zeros(batch_replica.size, dtype=np.int64)
    for index, history in enumerate(histories):
        if history is not None:
            caps[batch_replica == index] = history
    return caps


def _scaling_arrays(flow, scenario) -> dict[str, np.ndarray] | None:
    """Autoscaling: the step functions of replicas paid for and active, and the price
    of one replica per hour (NaN without a price)."""
    if flow.scaling_log is None:
        return None
    t_s, paid, active = (np.array(c) for c in zip(*flow.scaling_log, strict=True))
    price = scenario.server_cost_per_hour
    per_replica = np.nan if price is None else price * scenario.servers.count
    return {"t_s": t_s, "paid": paid, "active": active,
            "price_per_replica_hour": np.array(per_replica)}
