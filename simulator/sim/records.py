"""What one replication observed: per-request and per-batch arrays.

Owns the record format shared by the engine (which fills it), the metrics
(which summarise it) and the results folder (which saves it): outcome codes,
request -> batch links, and the derived start/finish/latency arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IN_FLIGHT, COMPLETED, REJECTED, TIMED_OUT, FAILED = 0, 1, 2, 3, 4
OUTCOME_NAMES = {IN_FLIGHT: "in_flight", COMPLETED: "completed", REJECTED: "rejected",
                 TIMED_OUT: "timed_out"}
NETWORK_OUTCOME_NAMES = {**OUTCOME_NAMES, FAILED: "failed"}
"""With `network:`, a user request may also have `failed`: every attempt was lost."""


@dataclass
class ReplicationRecord:
    """Arrays of one replication. Times in seconds of simulated time.

    Requests: `arrival_s`, `batch` (index into the batch arrays, -1 if never
    started), `outcome` (codes above). Batches: `batch_start_s`,
    `batch_finish_s` (NaN while in service at the end), `batch_size`,
    `batch_charged` (padded size the server paid for), `batch_server`.

    With a path outside the servers (`service.overhead`, `network:`), the
    request arrays above describe what the servers saw (each attempt, at the
    time it reached the queue), and the client arrays describe each user
    request: `sent_s` (client send), `delivery` (index of the attempt that
    answered it, -1 if none), `response_delay_s` (batch finish -> response
    received), `client_outcome`; with `network:` also `attempts`, `last_sent_s`
    and `network_timeout_s`. They are None on the plain path, which then costs
    nothing.
    With `replicas:`, `replica` (per request, -1 if not yet routed) and
    `batch_replica`; with `classes:`, `request_class` (index into
    `class_names`, whose SLOs are `class_slo_s`). With `adaptive` batching,
    `batch_cap` is the batch-size cap in force when each batch was cut.
    """

    replication: int
    warmup_s: float
    end_s: float
    servers: int
    timeout_s: float | None
    arrival_s: np.ndarray
    batch: np.ndarray
    outcome: np.ndarray
    batch_start_s: np.ndarray
    batch_finish_s: np.ndarray
    batch_size: np.ndarray
    batch_charged: np.ndarray
    batch_server: np.ndarray
    sent_s: np.ndarray | None = None
    delivery: np.ndarray | None = None
    response_delay_s: np.ndarray | None = None
    client_outcome: np.ndarray | None = None
    attempts: np.ndarray | None = None
    last_sent_s: np.ndarray | None = None
    network_timeout_s: float | None = None

    @property
    def has_client_path(self) -> bool:
        return self.sent_s is not None

    @property
    def received_s(self) -> np.ndarray:
        """Client path only: when each user request's answer is received (NaN if none)."""
        received = np.full(self.delivery.size, np.nan)
        answered = self.delivery >= 0
        received[answered] = (self.finish_s[self.delivery[answered]]
                              + self.response_delay_s[answered])
        return received
    # set only by the fleet model (replicas: / classes:) and adaptive batching
    replicas: int = 1
    replica_servers: tuple[int, ...] | None = None  # servers of each replica (or stage)
    replica: np.ndarray | None = None
    batch_replica: np.ndarray | None = None
    request_class: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    class_slo_s: tuple[float | None, ...] | None = None
    batch_cap: np.ndarray | None = None
    scaling: dict[str, np.ndarray] | None = None  # autoscaling: t_s, paid, active replicas

    @property
    def start_s(self) -> np.ndarray:
        """Batch start time of each request (NaN if it never started)."""
        return _through_batch(self.batch, self.batch_start_s)

    @property
    def finish_s(self) -> np.ndarray:
        """Finish time of each request (NaN unless completed)."""
        return _through_batch(self.batch, self.batch_finish_s)

    @property
    def request_server(self) -> np.ndarray:
        """Server of each request's batch (-1 if it never started)."""
        return _through_batch(self.batch, self.batch_server, -1, np.int64)

    def counts(self) -> dict[str, int]:
        """Outcome counts of the user requests (the client's view when there is one)."""
        outcome, names = self.outcome, OUTCOME_NAMES
        if self.has_client_path:
            outcome = self.client_outcome
            names = OUTCOME_NAMES if self.attempts is None else NETWORK_OUTCOME_NAMES
        if self.attempts is None and (outcome == FAILED).any():  # lost to a fault
            names = NETWORK_OUTCOME_NAMES
        tally = np.bincount(outcome, minlength=5)
        counts = {name: int(tally[code]) for code, name in names.items()}
        return {"arrived": int(outcome.size), **counts}


def _through_batch(batch: np.ndarray, per_batch: np.ndarray, missing: float = np.nan,
                   dtype: type = np.float64) -> np.ndarray:
    """`per_batch[batch]` as `dtype`, `missing` where `batch` is negative (never started).

    One gather: `missing` is appended to the per-batch values, so index -1 picks it.
    """
    padded = np.empty(per_batch.size + 1, dtype=dtype)
    padded[:-1] = per_batch
    padded[-1] = missing
    if batch.size and batch.min() < -1:
        batch = np.maximum(batch, -1)
    return padded[batch]
