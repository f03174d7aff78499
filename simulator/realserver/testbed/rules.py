"""Checking a log against the `dynamic` dispatch rule (one worker).

Owns the audit the tests run on the testbed's logs: no batch above
`max_batch_size`; none cut early (a batch below the maximum only once its
oldest request has waited `max_queue_delay` since its arrival); none held:
how long after it became due (rule satisfied and the worker free) each
batch started. Arrival is the server's `arrival_s` stamp when the log has it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..servelog import ServeLog

EARLY_TOLERANCE_S = 1e-6


@dataclass
class Audit:
    too_large: int          # batches above max_batch_size
    early: int              # batches below the maximum cut before the delay had passed
    lateness_s: np.ndarray  # per batch: start - max(due, previous finish)


def audit(log: ServeLog, max_batch_size: int, max_queue_delay_s: float) -> Audit:
    batches = log.per_batch("arrival_s" if log.has("arrival_s") else "enqueue_s")
    start, finish, size = batches.start_s, batches.finish_s, batches.size
    oldest, newest = batches.oldest_s, batches.newest_s
    full = size >= max_batch_size
    due = np.where(full, newest, oldest + max_queue_delay_s)
    early = ~full & (start < oldest + max_queue_delay_s - EARLY_TOLERANCE_S)
    free_at = np.r_[-np.inf, finish[:-1]]
    lateness = start - np.maximum(np.where(full, np.minimum(due, oldest + max_queue_delay_s),
                                           due), free_at)
    return Audit(int((size > max_batch_size).sum()), int(early.sum()), lateness)
