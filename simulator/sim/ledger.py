"""Every batch of every replica, in start order, and the links from tasks to batches.

Owns the per-batch lists the replicas fill during a run and their freezing
into the arrays of a `ReplicationRecord` (`batch` per task, start, finish,
size, charged size, server and replica per batch).
"""

from __future__ import annotations

from array import array

import numpy as np

from .records import COMPLETED


class Ledger:
    """Batches in start order; with `keep_ids` also each batch's task ids (needed to
    forward finished tasks, wake users and retry interrupted batches)."""

    def __init__(self, keep_ids: bool):
        self.members = array("q")
        self.start_s = array("d")
        self.finish_s: list[float] = []
        self.size: list[int] = []
        self.charged = array("q")
        self.server = array("q")
        self.replica = array("i")
        self.ids: list = []
        self.keep_ids = keep_ids

    def open(self, tasks, now: float, action, server: int, replica: int) -> int:
        """A batch of `tasks` starts now on global server `server`; returns its index."""
        if self.keep_ids:
            self.ids.append(tasks)
        else:
            self.members.extend(tasks)
        self.start_s.append(now)
        self.finish_s.append(np.nan)
        self.size.append(action.size)
        self.charged.append(action.charged_size)
        self.server.append(server)
        self.replica.append(replica)
        return len(self.size) - 1

    def task_batches(self, n_tasks: int) -> np.ndarray:
        """The batch of every task (-1 if it never started, or its batch was cut)."""
        sizes = np.asarray(self.size, dtype=np.int64)
        batch = np.full(n_tasks, -1, dtype=np.int64)
        if self.keep_ids:
            members = np.fromiter((t for ids in self.ids for t in ids), dtype=np.int64)
        else:
            members = np.frombuffer(self.members, dtype=np.int64)
        batch[members] = np.repeat(np.arange(sizes.size), sizes)
        return batch

    def mark_completed(self, batch: np.ndarray, outcome: np.ndarray) -> None:
        """Tasks whose batch has finished are completed."""
        finish_s = np.asarray(self.finish_s, dtype=float)
        done = batch >= 0
        done[done] = ~np.isnan(finish_s[batch[done]])
        outcome[done] = COMPLETED

    def arrays(self) -> dict[str, np.ndarray]:
        return {"batch_start_s": np.frombuffer(self.start_s, dtype=float).copy(),
                "batch_finish_s": np.asarray(self.finish_s, dtype=float),
                "batch_size": np.asarray(self.size, dtype=np.int64),
                "batch_charged": np.frombuffer(self.charged, dtype=np.int64).copy(),
                "batch_server": np.frombuffer(self.server, dtype=np.int64).copy()}
