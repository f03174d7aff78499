"""One replication of a scenario: build the model, run SimPy, freeze the record.

Owns `simulate`, the only entry point of the simulation. Every scenario,
however simple, is built into the same parts (`build`): the open-loop source
or closed-loop users, then per stage a pool of replicas behind a router
(each replica a queue, a batching policy and servers), then the joins of
stages and ensemble branches (`answers`), then the client path. A plain
scenario is one stage, one pool, one replica, one class. Arrival times are
generated before the run from their own stream, so every policy sees the same
workload; requests are integer ids whose times live in numpy arrays.
"""

from __future__ import annotations

import numpy as np
import simpy

from ..model.stages import stage_parts
from .answers import attach_answers
from .build import build_pools, task_layout
from .client_path import plan_client_path
from .flow import Flow
from .outages import schedule_outages
from .record import freeze
from .rng import stream
from .users import start_users


def simulate(scenario, replication: int = 0):
    """Run replication `replication` of `scenario` and return its `ReplicationRecord`."""
    run = scenario.run
    env = simpy.Environment()
    parts = stage_parts(scenario)
    layout = task_layout(parts)
    closed = scenario.is_closed_loop
    faults = scenario.faults
    flow = Flow(env, layout, keep_ids=closed or faults is not None or len(parts) > 1,
                in_flight=faults.in_flight if faults else "retry")
    plan = None
    if closed:
        flow.closed_loop()
    else:
        times_s, classes = arrival_times(scenario, replication)
        plan = plan_client_path(scenario, times_s, replication)
        if plan is not None:
            times_s = plan.queue_arrival_s
            classes = classes[plan.attempt_user]
        flow.open_loop(times_s, classes)
    replicas = build_pools(flow, scenario, parts, replication)
    if len(flow.stages[0]) == 1 and len(flow.stages[0][0].replicas) == 1:
        flow.entry = flow.stages[0][0].replicas[0]
    if scenario.autoscaling is not None:
        active = sum(p.active for p in parts for _ in range(p.branches))
        flow.scaling_log = [(0.0, active, active)]
    if faults is not None:
        schedule_outages(env, replicas, faults, scenario.seed, replication)
    if closed:
        start_users(flow, scenario, replication)
        end_s = run.duration
    else:
        env.timeout(0).callbacks.append(flow.start)
        end_s = run.duration if run.requests is None else _last_arrival_s(times_s, plan)
    if end_s > 0:
        env.run(until=end_s)
    record = freeze(flow, scenario, replicas, replication, end_s)
    if flow.client_log is not None:
        plan = flow.client_log.freeze()
    return attach_answers(record, layout, plan)


def _last_arrival_s(times_s: np.ndarray, plan) -> float:
    """With `run.requests`, the run ends at the last arrival: the last attempt to reach
    the queue, or the last user send when that is later (its attempts were lost)."""
    last_s = float(times_s[-1]) if times_s.size else 0.0
    if plan is not None and plan.sent_s.size:
        last_s = max(last_s, float(plan.sent_s[-1]))
    return last_s


def arrival_times(scenario, replication: int) -> tuple[np.ndarray, np.ndarray]:
    """The open-loop arrival times and the class of each: with superposition arrivals
    and `classes:` class k is stream k; otherwise classes are drawn by share."""
    rng, run = stream(scenario.seed, replication, "arrivals"), scenario.run
    if scenario.classes and scenario.arrival.process == "superposition":
        return scenario.arrival.times_and_streams(rng, run.duration)
    times_s = scenario.arrival.times_s(rng, horizon_s=run.duration, n=run.requests)
    return times_s, draw_classes(scenario, replication, times_s.size)


def draw_classes(scenario, replication: int, n: int) -> np.ndarray:
    """The class of every arrival, drawn by share from the `classes` stream."""
    if not scenario.classes:
        return np.zeros(n, dtype=np.int16)
    shares = np.array([c.share for c in scenario.classes])
    rng = stream(scenario.seed, replication, "classes")
    return rng.choice(len(shares), size=n, p=shares / shares.sum()).astype(np.int16)
