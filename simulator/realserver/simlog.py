"""A simulated replication written in the real-server log format (`servelog`).

Owns the translation that lets batchsim's own output stand in for a real
server: `batchsim calibrate` must recover, from such a log, the parameters the
simulation was run with (the calibration test), and a synthetic log is a
handy example of the format. One server, no `network:`; a request is an
`idle_arrival` when it reached the queue while no batch was in service.
"""

from __future__ import annotations

import numpy as np

from ..sim.records import ReplicationRecord


def log_columns(record: ReplicationRecord) -> dict[str, np.ndarray]:
    """Per user request columns of `record` (unanswered requests keep empty cells)."""
    if record.servers != 1 or record.attempts is not None:
        raise ValueError("a log stands for one server without network: retries")
    if record.has_client_path:
        scheduled_s, attempt = record.sent_s, record.delivery
        received_s = record.received_s
    else:
        scheduled_s, attempt = record.arrival_s, np.arange(record.arrival_s.size)
        received_s = record.finish_s
    batch = record.batch[attempt]
    answered = ~np.isnan(received_s) & (record.outcome[attempt] == 1)
    n = scheduled_s.size
    columns = {name: np.full(n, np.nan) for name in ("batch_start_s", "batch_finish_s",
                                                    "received_s")}
    columns.update(request_id=np.arange(n), scheduled_s=scheduled_s, sent_s=scheduled_s,
                   arrival_s=record.arrival_s[attempt], enqueue_s=record.arrival_s[attempt],
                   batch_id=np.where(answered, batch, -1),
                   batch_size=np.full(n, -1), idle_arrival=np.full(n, -1))
    ids = batch[answered]
    columns["batch_size"][answered] = record.batch_size[ids]
    columns["batch_start_s"][answered] = record.batch_start_s[ids]
    columns["batch_finish_s"][answered] = record.batch_finish_s[ids]
    columns["received_s"][answered] = received_s[answered]
    columns["idle_arrival"][answered] = ~_in_service(record, columns["enqueue_s"][answered])
    return columns


def _in_service(record: ReplicationRecord, times_s: np.ndarray) -> np.ndarray:
    """Whether a batch was in service at each time (batches of one server never overlap)."""
    starts, finishes = record.batch_start_s, record.batch_finish_s
    order = np.argsort(starts)
    starts, finishes = starts[order], finishes[order]
    last = np.searchsorted(starts, times_s, side="left") - 1  # batches started before
    inside = last >= 0
    inside[inside] = times_s[inside] < finishes[last[inside]]
    return inside
