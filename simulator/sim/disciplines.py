"""The queue of one replica when requests have classes: order and per-class policy.

Owns which queued request goes into the next batch (`fifo`: oldest arrival
first; `priority`: highest class priority first, FIFO within a class; `edf`:
earliest deadline = arrival + class deadline first) and the Triton-style
per-class queue policy (`max_queue_size`, `timeout` with `reject` or `delay`).
Requests are integer ids; each class keeps its own FIFO deque, and a delayed
request moves to its class's second deque, served only when no request that
has not timed out waits. No SimPy here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from .batching import INF, reached

REJECT, DELAY = "reject", "delay"


class ClassSpec:
    """What the queue needs to know about one class."""

    __slots__ = ("rank", "deadline_s", "timeout_s", "action", "max_queued")

    def __init__(self, rank: float, deadline_s: float, timeout_s: float | None,
                 action: str, max_queued: int | None):
        self.rank = rank
        self.deadline_s = deadline_s
        self.timeout_s = timeout_s
        self.action = action
        self.max_queued = max_queued


class ClassQueue:
    """Per-class FIFO deques; `take(n)` removes the next n by the discipline."""

    def __init__(self, discipline: str, specs: Sequence[ClassSpec], arrival_s,
                 request_class):
        self.discipline = discipline
        self.specs = list(specs)
        self.at_s = arrival_s
        self.klass = request_class
        self.fresh = [deque() for _ in specs]
        self.late = [deque() for _ in specs]
        self.size = 0
        self.timed = [k for k, s in enumerate(specs) if s.timeout_s is not None]
        self.single = len(self.specs) == 1 and specs[0].action != DELAY
        """One class that never delays: one FIFO deque, the plain queue's fast path."""

    def __len__(self) -> int:
        return self.size

    def queued(self, klass: int) -> int:
        return len(self.fresh[klass]) + len(self.late[klass])

    def full_for(self, klass: int) -> bool:
        """True when class `klass` already holds its max_queue_size."""
        limit = self.specs[klass].max_queued
        return limit is not None and self.queued(klass) >= limit

    def push(self, rid: int) -> None:
        self.fresh[self.klass[rid]].append(rid)
        self.size += 1

    def requeue(self, ids: list[int]) -> None:
        """Put `ids` (an interrupted batch) back at the head of their classes' lanes."""
        touched = set()
        for rid in reversed(ids):
            self.fresh[self.klass[rid]].appendleft(rid)
            touched.add(self.klass[rid])
        for klass in touched:  # in arrival order, as timeouts need (several cut batches)
            lane = self.fresh[klass]
            ordered = sorted(lane, key=lambda r: (self.at_s[r], r))
            lane.clear()
            lane.extend(ordered)
        self.size += len(ids)

    def oldest_s(self) -> float:
        """Earliest arrival among the queued requests (INF when empty)."""
        if self.single:
            lane = self.fresh[0]
            return self.at_s[lane[0]] if lane else INF
        heads = [q[0] for q in (*self.fresh, *self.late) if q]
        return min(self.at_s[r] for r in heads) if heads else INF

    def _key(self, klass: int, rid: int) -> tuple:
        at_s = self.at_s[rid]
        if self.discipline == "priority":
            return (-self.specs[klass].rank, at_s)
        if self.discipline == "edf":
            return (at_s + self.specs[klass].deadline_s, at_s)
        return (at_s,)

    def _next_deque(self) -> deque:
        for lanes in (self.fresh, self.late):
            best, best_key = None, None
            for klass, lane in enumerate(lanes):
                if lane:
                    key = self._key(klass, lane[0])
                    if best_key is None or key < best_key:
                        best, best_key = lane, key
            if best is not None:
                return best
        raise IndexError("take from an empty queue")

    def take(self, count: int) -> list[int]:
        """Remove and return the next `count` requests by the discipline."""
        if self.single:
            lane = self.fresh[0]
            self.size -= count
            return [lane.popleft() for _ in range(count)]
        taken = [self._next_deque().popleft() for _ in range(count)]
        self.size -= count
        return taken

    def expire(self, now_s: float) -> list[int]:
        """Apply the class timeouts at `now_s`; returns the rejected request ids."""
        rejected = []
        for klass in self.timed:
            spec, lane = self.specs[klass], self.fresh[klass]
            while lane and reached(now_s, self.at_s[lane[0]] + spec.timeout_s):
                rid = lane.popleft()
                if spec.action == DELAY:
                    self.late[klass].append(rid)
                else:
                    rejected.append(rid)
                    self.size -= 1
        return rejected

    def next_expiry_s(self) -> float:
        """The next time a class timeout acts (INF if none can)."""
        if not self.timed:
            return INF
        times = [self.at_s[self.fresh[k][0]] + self.specs[k].timeout_s
                 for k in self.timed if self.fresh[k]]
        return min(times, default=INF)
