"""The request path outside the servers: per-request overheads and the client network.

Simulates `service.overhead` (`before`: hand-off delay until the request reaches
the queue; `after`: response path after its batch ends) and the `network:` section
(per-leg delay, lost attempts, client timeout and retries; their schema is
`network.py`). Neither occupies a server. Because losses and delays do not depend on the servers' state, every
attempt is generated before the run: `plan_client_path` turns the client send
times into the (re-sorted) times at which attempts reach the queue, which the
engine simulates like any arrivals, and `ClientPlan.attach` adds to its record
each user request's send time, the attempt that answered it, the delay of the
response path and its outcome as the user sees it.

Semantics of one user request sent at `t0`, attempt j sent at `t_j`:
- the attempt is lost with probability `failure_probability`, on the request
  leg (never reaches the server), the response leg (served, answer lost), or,
  with `lost_on: both`, on either leg with equal chance;
- one that is not lost on the way in reaches the queue at
  `t_j + delay (request leg) + overhead.before`;
- a lost attempt is retried at `t_j + timeout + backoff x backoff_multiplier^j`,
  up to `max_retries` retries; when the last is lost too the request is `failed` at `t_j + timeout`;
- the answer of the attempt that is not lost is received at its batch's finish
  `+ overhead.after + delay (response leg)`; latency = received - t0.
The client's timeout only detects lost attempts: an answer slower than
`timeout` is still accepted (counted as `late_responses`, with a warning).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.delays import DelayConfig
from ..model.network import NetworkConfig
from .records import COMPLETED, FAILED, IN_FLIGHT, ReplicationRecord
from .rng import stream

LEG_REQUEST, LEG_RESPONSE = 0, 1


@dataclass
class ClientPlan:
    """Every attempt of one replication, in the order they reach the queue."""

    queue_arrival_s: np.ndarray   # per attempt that reaches the queue, sorted
    sent_s: np.ndarray            # per user request: first send
    delivery: np.ndarray          # per user request: attempt index that answers, or -1
    response_delay_s: np.ndarray  # per user request: after + response leg (NaN if none)
    attempts: np.ndarray | None   # per user request: attempts sent (network only)
    last_sent_s: np.ndarray | None  # per user request: send time of its last attempt
    timeout_s: float | None
    attempt_user: np.ndarray | None = None  # per attempt in queue order: its user request

    def attach(self, record: ReplicationRecord) -> ReplicationRecord:
        """Add the client-side arrays (and user outcomes as of `record.end_s`)."""
        record.sent_s = self.sent_s
        record.delivery = self.delivery
        record.response_delay_s = self.response_delay_s
        record.attempts = self.attempts
        record.last_sent_s = self.last_sent_s
        record.network_timeout_s = self.timeout_s
        record.client_outcome = self._outcomes(record)
        return record

    def _outcomes(self, record: ReplicationRecord) -> np.ndarray:
        """Server outcome of the answering attempt; `failed` when none; in flight until
        the answer is received (or, for a failure, until the last timeout expires)."""
        answered = self.delivery >= 0
        outcome = np.full(self.delivery.size, FAILED, dtype=np.int8)
        outcome[answered] = record.outcome[self.delivery[answered]]
        late = (outcome == COMPLETED) & ~(record.received_s <= record.end_s)
        outcome[late] = IN_FLIGHT
        if self.timeout_s is not None:
            undecided = ~answered & (self.last_sent_s + self.timeout_s > record.end_s)
            outcome[undecided] = IN_FLIGHT
        return outcome


def plan_client_path(scenario, sent_s: np.ndarray, replication: int) -> ClientPlan | None:
    """The attempts of the user requests sent at `sent_s`; None when there is no path
    outside the servers (the plain case costs nothing)."""
    overhead = scenario.service.overhead
    network = scenario.network
    if overhead is None and network is None:
        return None
    before = overhead.before if overhead else None
    after = overhead.after if overhead else None
    draw = _Draws(scenario.seed, replication)
    if network is None:
        return _overheads_only(sent_s, before, after, draw)
    return _with_network(sent_s, before, after, network, draw)


class _Draws:
    """Named random streams of the client path, created only when used."""

    def __init__(self, seed: int, replication: int):
        self.seed, self.replication, self.streams = seed, replication, {}

    def __call__(self, name: str, delay: DelayConfig | None, n: int) -> np.ndarray:
        if delay is None or delay.is_zero:
            return np.zeros(n)
        return delay.sample_s(self.rng(name), n)

    def rng(self, name: str) -> np.random.Generator:
        if name not in self.streams:
            self.streams[name] = stream(self.seed, self.replication, name)
        return self.streams[name]


def _overheads_only(sent_s, before, after, draw: _Draws) -> ClientPlan:
    n = sent_s.size
    reach_s = sent_s + draw("overhead_before", before, n)
    order = np.argsort(reach_s, kind="stable")
    delivery = np.empty(n, dtype=np.int64)
    delivery[order] = np.arange(n)
    return ClientPlan(reach_s[order], sent_s, delivery, draw("overhead_after", after, n),
                      None, None, None, order)


def _with_network(sent_s, before, after, network: NetworkConfig, draw: _Draws) -> ClientPlan:
    """Attempts round by round: round j holds the j-th attempt of every request still
    unanswered (lost attempts are retried after the timeout and backoff)."""
    n = sent_s.size
    book = _AttemptBook(n, sent_s)
    active, send_s = np.arange(n), sent_s
    for retry in range(network.max_retries + 1):
        lost = book.send(active, send_s, network, draw)
        ok = active[~lost]
        book.response_delay_s[ok] = (draw("overhead_after", after, ok.size)
                                     + draw("network_delay", network.delay, ok.size))
        wait_s = (network.timeout or 0.0) + network.backoff * network.backoff_multiplier**retry
        active, send_s = active[lost], send_s[lost] + wait_s
        if not active.size:
            break
    queue_arrival_s, delivery, attempt_user = book.in_queue_order(before, draw)
    return ClientPlan(queue_arrival_s, sent_s, delivery, book.response_delay_s, book.attempts,
                      book.last_sent_s, network.timeout, attempt_user)


class _AttemptBook:
    """The attempts generated so far: who sent them, which reach the queue and when."""

    def __init__(self, n: int, sent_s: np.ndarray):
        self.attempts = np.zeros(n, dtype=np.int64)
        self.last_sent_s = sent_s.copy()
        self.response_delay_s = np.full(n, np.nan)
        self.reach_s: list[np.ndarray] = []
        self.users: list[np.ndarray] = []
        self.answers: list[np.ndarray] = []

    def send(self, active, send_s, network: NetworkConfig, draw: _Draws) -> np.ndarray:
        """One attempt of each `active` request at `send_s`; returns which are lost."""
        self.attempts[active] += 1
        self.last_sent_s[active] = send_s
        lost, leg = _losses(network, draw.rng("network_loss"), active.size)
        reaches = ~(lost & (leg == LEG_REQUEST))
        self.reach_s.append(send_s[reaches]
                            + draw("network_delay", network.delay, int(reaches.sum())))
        self.users.append(active[reaches])
        self.answers.append(~lost[reaches])
        return lost

    def in_queue_order(self, before, draw: _Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Queue arrival times (hand-off overhead added), sorted; for each request the
        index of its answering attempt among them (-1 if none); each attempt's request."""
        reach_s = np.concatenate(self.reach_s)
        reach_s += draw("overhead_before", before, reach_s.size)
        users, answers = np.concatenate(self.users), np.concatenate(self.answers)
        order = np.argsort(reach_s, kind="stable")
        delivery = np.full(self.attempts.size, -1, dtype=np.int64)
        answering = answers[order]
        delivery[users[order][answering]] = np.flatnonzero(answering)
        return reach_s[order], delivery, users[order]


def _losses(network: NetworkConfig, rng: np.random.Generator,
            n: int) -> tuple[np.ndarray, np.ndarray]:
    """Which of `n` attempts are lost, and on which leg."""
    p = network.failure_probability
    if p == 0:
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int8)
    lost = rng.random(n) < p
    if network.lost_on == "both":
        leg = (rng.random(n) < 0.5).astype(np.int8)
    else:
        leg = np.full(n, LEG_REQUEST if network.lost_on == "request" else LEG_RESPONSE,
                      dtype=np.int8)
    return lost, leg
