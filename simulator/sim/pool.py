"""A pool: the replicas that serve one pipeline stage (or one ensemble branch),
behind their router, and the autoscaler that grows or shrinks it.

Owns routing a task to a replica, sending it around replicas that are down
or on standby, and the autoscaling controller of the pool. A pool of one
replica routes without drawing anything.
"""

from __future__ import annotations

from ..model.autoscaling import decide as autoscaling_decide
from .routing import Router, fewest


class Pool:
    """Replicas of one stage or branch behind a router."""

    def __init__(self, flow, replicas: list, rule: str, rng):
        self.flow, self.env, self.replicas = flow, flow.env, replicas
        self.router = Router(rule, replicas, rng)
        self.single = len(replicas) == 1

    def route(self, task: int, at_s: float):
        """Hand task `task` (arriving at `at_s`) to a replica; returns that replica."""
        if self.single:
            chosen = self.replicas[0]
        else:
            chosen = self.replicas[self.router.pick()]
            if chosen.down_count or chosen.standby:
                chosen = self._next_up(chosen)
            self.flow.replica_of[task] = chosen.index
        chosen.receive(task, at_s)
        return chosen

    def route_run(self, first: int, last: int, at_s) -> None:
        """Route tasks first .. last - 1, each arriving at its own time, in order."""
        replicas, pick, replica_of = self.replicas, self.router.pick, self.flow.replica_of
        if self.single:
            replicas[0].receive_run(first, last, 1, at_s)
            return
        for task in range(first, last):
            chosen = replicas[pick()]
            if chosen.down_count or chosen.standby:
                chosen = self._next_up(chosen)
            replica_of[task] = chosen.index
            chosen.receive(task, at_s[task])

    def _next_up(self, target):
        """Another replica for a task aimed at a down one (`target` if all are down): the
        up replica with the fewest queued + in service for the load-aware routers, one
        drawn at random among those up for round_robin and random."""
        up = [r for r in self.replicas if not (r.down_count or r.standby)]
        if not up:
            return target
        u = self.router.next_uniform()
        if self.router.rule in ("round_robin", "random"):
            return up[int(u * len(up))]
        return up[fewest([r.outstanding for r in up], u)]

    # -- autoscaling ---------------------------------------------------------------------
    def start_autoscaler(self, config, active: int) -> None:
        for replica in self.replicas[active:]:
            replica.standby = True
        self.env.process(self._autoscaler(config))

    def _autoscaler(self, config):
        """Every `interval`: add or retire one replica by the thresholds."""
        env, log = self.env, self.flow.log_scaling
        while True:
            yield env.timeout(config.interval)
            self.flow.catch_up(env.now)
            active = [r for r in self.replicas if not r.standby]
            coming = sum(r.reserved for r in self.replicas)
            load = sum(r.outstanding for r in active) / max(len(active), 1)
            step = autoscaling_decide(load, len(active), coming, config)
            if step > 0:
                replica = next(r for r in self.replicas if r.standby and not r.reserved)
                replica.reserved = True
                log(+1, 0)
                env.process(self._provision(replica, config.provisioning_delay))
            elif step < 0:
                active[-1].standby = True
                log(-1, -1)

    def _provision(self, replica, delay_s: float):
        yield self.env.timeout(delay_s)
        self.flow.catch_up(self.env.now)
        replica.reserved, replica.standby = False, False
        self.flow.log_scaling(0, +1)
