"""From task records to each request's answer: pipeline stages, ensemble joins,
and the client path on top.

Owns the record-level join. Request j is tasks j*P .. j*P + P - 1: stage s
owns `branches[s]` consecutive slots (1 without an ensemble). A stage answers
a request once `needed[s]` of its branches completed (the needed-th to finish
is the answer); a request is answered when its last stage answered. It is
doomed once a stage lost more branches than it can spare: then its outcome is
`rejected` if any of its tasks was rejected, else `timed_out`, else `failed`;
otherwise it is still in flight. With a client path (`service.overhead`,
`network:`), each server-side request is one attempt of a user request, and
the user's answer is the answer of the attempt that was not lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .records import COMPLETED, FAILED, IN_FLIGHT, REJECTED, TIMED_OUT, ReplicationRecord


@dataclass(frozen=True)
class TaskLayout:
    """How a request's tasks are laid out: per stage its branches and how many answer."""

    branches: tuple[int, ...]
    needed: tuple[int, ...]

    @property
    def per_request(self) -> int:
        return sum(self.branches)

    @property
    def offsets(self) -> tuple[int, ...]:
        out, total = [], 0
        for b in self.branches:
            out.append(total)
            total += b
        return tuple(out)

    @property
    def trivial(self) -> bool:
        return self.per_request == 1


def join_requests(record: ReplicationRecord, layout: TaskLayout) -> tuple[np.ndarray, np.ndarray]:
    """Per request: the task that answered it (-1 if none) and its outcome."""
    per = layout.per_request
    n = record.arrival_s.size // per
    outcome = record.outcome.reshape(n, per)
    finish_s = np.where(outcome == COMPLETED, record.finish_s.reshape(n, per), np.inf)
    rows = np.arange(n)
    doomed = np.zeros(n, dtype=bool)
    answer = np.full(n, -1, dtype=np.int64)
    for offset, branches, needed in zip(layout.offsets, layout.branches, layout.needed,
                                        strict=True):
        cols = slice(offset, offset + branches)
        lost = ((outcome[:, cols] != COMPLETED) & (outcome[:, cols] != IN_FLIGHT)).sum(axis=1)
        doomed |= lost > branches - needed
        order = np.argsort(finish_s[:, cols], axis=1, kind="stable")[:, needed - 1]
        answered = np.isfinite(finish_s[rows, offset + order])
        answer = np.where(answered, rows * per + offset + order, -1)
    result = np.full(n, IN_FLIGHT, dtype=np.int8)
    result[answer >= 0] = COMPLETED
    doomed &= answer < 0
    any_of = {code: (outcome == code).any(axis=1) for code in (REJECTED, TIMED_OUT)}
    result[doomed] = np.where(any_of[REJECTED][doomed], REJECTED,
                              np.where(any_of[TIMED_OUT][doomed], TIMED_OUT, FAILED))
    return answer, result


def attach_answers(record: ReplicationRecord, layout: TaskLayout, plan) -> ReplicationRecord:
    """Fill the record's client arrays from the joins and the client path (if any)."""
    if layout.trivial and plan is None:
        return record
    if layout.trivial:
        answer, result = np.arange(record.arrival_s.size), record.outcome
    else:
        answer, result = join_requests(record, layout)
    if plan is None:
        record.sent_s = record.arrival_s[::layout.per_request].copy()
        record.delivery = answer
        record.response_delay_s = np.zeros(answer.size)
        record.client_outcome = result
        return record
    _attach_client(record, plan, answer, result)
    return record


def _attach_client(record: ReplicationRecord, plan, answer, result) -> None:
    """User requests over attempts: the answering attempt's task, outcome and timing."""
    answered = plan.delivery >= 0
    attempt = plan.delivery[answered]
    delivery = np.full(plan.delivery.size, -1, dtype=np.int64)
    # the answering task, or while unanswered the request's last task (not finished)
    delivery[answered] = np.where(answer[attempt] >= 0, answer[attempt],
                                  (attempt + 1) * (record.arrival_s.size // answer.size) - 1)
    outcome = np.full(plan.delivery.size, FAILED, dtype=np.int8)
    outcome[answered] = result[attempt]
    record.sent_s = plan.sent_s
    record.delivery = delivery
    record.response_delay_s = plan.response_delay_s
    record.attempts = plan.attempts
    record.last_sent_s = plan.last_sent_s
    record.network_timeout_s = plan.timeout_s
    late = (outcome == COMPLETED) & ~(record.received_s <= record.end_s)
    outcome[late] = IN_FLIGHT
    waiting = getattr(plan, "open_cycle", None)  # closed loop: cycles not ended yet
    if waiting is not None:
        outcome[waiting & (outcome == FAILED) & ~answered] = IN_FLIGHT
    if plan.timeout_s is not None:
        undecided = ~answered & (plan.last_sent_s + plan.timeout_s > record.end_s)
        outcome[undecided] = IN_FLIGHT
    record.client_outcome = outcome
