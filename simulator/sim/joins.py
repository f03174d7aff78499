"""Joining a pipeline request's stage tasks (`stages:`) into its end-to-end answer.

Request j is tasks j*S .. j*S+S-1 (one per stage) in the server-side arrays; it is
answered when its last stage completes, and lost if any stage rejects it or times it out.
"""

from __future__ import annotations

import numpy as np

from .records import COMPLETED, FAILED, IN_FLIGHT, REJECTED, TIMED_OUT, ReplicationRecord


def join_stages(record: ReplicationRecord, stages: int) -> None:
    """Fill the client arrays: request j is answered when its last stage completes."""
    n = record.arrival_s.size // stages
    outcome = record.outcome.reshape(n, stages)
    rows = np.arange(n)
    last = rows * stages + stages - 1
    answered = record.outcome[last] == COMPLETED
    record.sent_s = record.arrival_s[::stages].copy()
    record.delivery = np.where(answered, last, -1)
    record.response_delay_s = np.zeros(n)
    client = np.full(n, IN_FLIGHT, dtype=np.int8)
    client[answered] = COMPLETED
    for code in (FAILED, TIMED_OUT, REJECTED):  # the first listed wins on ties: rejected
        client[~answered & (outcome == code).any(axis=1)] = code
    record.client_outcome = client
