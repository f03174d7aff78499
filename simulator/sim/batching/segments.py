"""Batch boundaries over a FIFO queue, for the policies that close batches themselves
(`tfserving`, `window`)."""

from __future__ import annotations

from collections import deque


class SegmentedQueue:
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
