"""Routers: which replica of a pool an arriving task goes to.

Owns the routing rules of `replicas.router`: `round_robin` (in turn),
`random` (uniform), `least_outstanding` (fewest queued + in service),
`join_shortest_queue` (fewest queued), `power_of_two` (two distinct
replicas drawn at random, the one with fewer queued + in service). Ties go
to a replica drawn at random among the tied. Every draw comes from the
pool's own `routing` stream, drawn in chunks when a choice needs one, so
routing is reproducible and never moves another stream.
"""

from __future__ import annotations

from array import array

import numpy as np

_CHUNK = 4096


class Router:
    """Picks the replica of each arriving task among `replicas`."""

    def __init__(self, rule: str, replicas: list, rng: np.random.Generator):
        self.rule, self.replicas, self.count = rule, replicas, len(replicas)
        self.queues = [r.queue for r in replicas]
        self.turn = -1
        self.pick = getattr(self, f"_{rule}")
        self.rng = rng
        self.uniform = array("d")
        self.pairs: list[list[int]] = []
        self.used = 0

    def next_uniform(self) -> float:
        """The next draw of this router's stream (one per routed task)."""
        if self.used == len(self.uniform):
            self._draw()
        value = self.uniform[self.used]
        self.used += 1
        return value

    def _draw(self) -> None:
        rng = self.rng
        self.uniform.extend(rng.random(_CHUNK).tolist())
        if self.rule == "power_of_two":
            first = rng.integers(0, self.count, size=_CHUNK)
            second = (first + rng.integers(1, self.count, size=_CHUNK)) % self.count
            self.pairs.extend(np.stack([first, second], axis=1).tolist())

    def _round_robin(self) -> int:
        self.turn = (self.turn + 1) % self.count
        return self.turn

    def _random(self) -> int:
        return int(self.next_uniform() * self.count)

    def _least_outstanding(self) -> int:
        return self._fewest([r.queue.size + r.in_service for r in self.replicas])

    def _join_shortest_queue(self) -> int:
        return self._fewest([q.size for q in self.queues])

    def _power_of_two(self) -> int:
        u = self.next_uniform()
        a, b = self.pairs[self.used - 1]
        load_a, load_b = self.replicas[a].outstanding, self.replicas[b].outstanding
        if load_a == load_b:
            return a if u < 0.5 else b
        return a if load_a < load_b else b

    def _fewest(self, loads: list[int]) -> int:
        """Index of the smallest load; ties broken by a draw of the stream (the k-th
        tied replica, k uniform, as `fewest`)."""
        least = min(loads)
        tied = loads.count(least)
        index = loads.index(least)
        if tied == 1:
            return index
        for _ in range(int(self.next_uniform() * tied)):
            index = loads.index(least, index + 1)
        return index


def fewest(loads: list[int], u: float) -> int:
    """Index of the smallest load; ties broken by the uniform draw `u`."""
    least = min(loads)
    tied = [k for k, load in enumerate(loads) if load == least]
    return tied[int(u * len(tied))] if len(tied) > 1 else tied[0]
