"""The queue of one replica: which waiting task goes into the next batch.

Owns admission limits and timeouts of a replica's queue. `FifoQueue` is the
queue of a replica with one class: task ids in an `array` with a head index,
so admitting a run of arrivals and taking a batch are slice copies, never a
Python operation per task. `ClassQueue` (in `disciplines`) orders several
classes (priority, edf, per-class timeouts and limits). Both answer the same
questions: how many wait, when the oldest arrived, the next `n` by the
discipline, and who timed out by `now`. No SimPy here.
"""

from __future__ import annotations

from array import array

from .batching import INF, reached

_COMPACT_AT = 4096
"""Drop the consumed head of the id array once it is this long and half the array."""


class FifoQueue:
    """One class, first come first served; a request not started within `timeout_s`
    is dropped (oldest first)."""

    timed_classes = ()

    def __init__(self, at_s, timeout_s: float | None, max_queued: int | None = None):
        self.at_s = at_s  # arrival time of every task id (a memoryview or array)
        self.ids = array("q")
        self.head = 0
        self.size = 0  # tasks waiting
        self.timeout_s = timeout_s
        self.timed = timeout_s is not None
        self.max_queued = max_queued
        self.bulk = not self.timed and max_queued is None
        """Runs of arrivals can be admitted at once (nothing per task to check)."""

    def __len__(self) -> int:
        return self.size

    def full_for(self, klass: int) -> bool:
        return self.max_queued is not None and len(self) >= self.max_queued

    def push(self, task: int) -> None:
        self.ids.append(task)
        self.size += 1

    def push_range(self, first: int, last: int, step: int = 1) -> None:
        before = len(self.ids)
        self.ids.extend(range(first, last, step))
        self.size += len(self.ids) - before

    def requeue(self, tasks) -> None:
        """Put an interrupted batch back, in arrival order with what waits (an outage
        may cut several batches at once; timeouts need the queue in arrival order)."""
        at_s = self.at_s
        waiting = sorted([*tasks, *self.ids[self.head:]], key=lambda t: (at_s[t], t))
        del self.ids[self.head:]
        self.ids.extend(waiting)
        self.size += len(tasks)

    def oldest_s(self) -> float:
        return self.at_s[self.ids[self.head]] if self.size else INF

    def take(self, count: int) -> array:
        head = self.head
        taken = self.ids[head:head + count]
        self.head = head + count
        self.size -= count
        if self.head >= _COMPACT_AT and 2 * self.head >= len(self.ids):
            del self.ids[:self.head]
            self.head = 0
        return taken

    def expire(self, now_s: float) -> list[int]:
        """Drop and return the tasks whose wait reached the timeout by `now_s`."""
        ids, at_s, head, timeout_s = self.ids, self.at_s, self.head, self.timeout_s
        end = head
        while end < len(ids) and reached(now_s, at_s[ids[end]] + timeout_s):
            end += 1
        if end == head:
            return []
        return list(self.take(end - head))

    def next_expiry_s(self) -> float:
        if not self.timed or not self.size:
            return INF
        return self.at_s[self.ids[self.head]] + self.timeout_s
