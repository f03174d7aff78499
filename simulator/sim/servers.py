"""How long a batch holds a server: the service model and what real servers add.

Owns, for the servers of one replica, the time of each batch: the sampled
service time of its charged size, times the replica's `service_time_factor`
and a straggler factor (`faults.stragglers`), plus the idle penalty of a
server that sat idle (`servers.idle_penalty`) and the stalls that strike it
while busy (`servers.stalls`). Also the wake-up delay of an idle server
(`servers.wakeup`). Each replica draws from its own streams (replica 0's are
the single-pool streams), so adding `replicas: {count: 1}` changes nothing.
No SimPy here.
"""

from __future__ import annotations

import numpy as np

from ..workload.service import ServiceSampler
from .rng import chunked, delay_chunks, stream


def straggle_factors(stragglers, rng: np.random.Generator):
    """A function returning the next batch's straggler multiplier (1 or `slowdown`) for
    `faults.stragglers` (None without stragglers)."""
    if stragglers is None:
        return None
    uniform = chunked(rng.random, last_first=True)

    def next_factor() -> float:
        return stragglers.slowdown if uniform() < stragglers.fraction else 1.0

    return next_factor


class ServerTimes:
    """Batch times of the `count` servers of one replica (global replica index `index`)."""

    def __init__(self, scenario, service, batching, count: int, index: int, factor: float,
                 straggle, replication: int):
        seed, servers = scenario.seed, scenario.servers
        self.sample_s = ServiceSampler(service, stream(seed, replication, "service", index),
                                       batching.largest_charged_size).sample_s
        self.factor = factor
        self.straggle = straggle
        self.idle_penalty = servers.idle_penalty
        self.free_since_s = [0.0] * count
        self.stalls = servers.stalls
        if self.stalls is not None:
            self.stall_rng = stream(seed, replication, "stalls", index)
            self.draw_stall_s = delay_chunks(self.stalls.duration, self.stall_rng)
            self.next_stall_s = [self._stall_gap_s() for _ in range(count)]
        self.plain = (factor == 1.0 and straggle is None and self.idle_penalty is None
                      and self.stalls is None)
        """The batch time is the sampled service time alone."""
        self.wakeup_s = None
        if servers.wakeup is not None:
            self.wakeup_s = delay_chunks(servers.wakeup,
                                         stream(seed, replication, "wakeup", index))

    def batch_s(self, server: int, charged: int, now_s: float) -> float:
        """Time the batch starting now on `server` holds it."""
        service_s = self.sample_s(charged)
        if self.factor != 1.0:
            service_s *= self.factor
        if self.straggle is not None:
            service_s *= self.straggle()
        if self.idle_penalty is not None:
            service_s += self.idle_penalty.extra_s(now_s - self.free_since_s[server])
        if self.stalls is not None:
            service_s += self._stalled_s(server, now_s, service_s)
        return service_s

    def _stalled_s(self, server: int, start_s: float, service_s: float) -> float:
        """How much longer the stalls striking this batch hold it (stalls that struck
        while the server was idle pass unnoticed)."""
        next_s = self.next_stall_s[server]
        if next_s < start_s:  # memoryless: the next one after the idle spell
            next_s = start_s + self._stall_gap_s()
        extra_s = 0.0
        while next_s < start_s + service_s + extra_s:
            extra_s += self.draw_stall_s()
            next_s += self._stall_gap_s()
        self.next_stall_s[server] = next_s
        return extra_s

    def _stall_gap_s(self) -> float:
        return float(self.stall_rng.exponential(self.stalls.every))
