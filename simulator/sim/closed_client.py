"""Closed-loop users behind the client path: overheads, network delay, lost attempts
and retries, as the run goes (the open loop plans them before the run instead,
`client.plan_client_path`; both follow the same rules, see `client`).

Owns the user process of a closed loop with `service.overhead` or `network:`
and the user-side arrays it fills (`ClientLog`), which become the record's
client arrays exactly like an open-loop plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .client_path import LEG_REQUEST
from .rng import delay_chunks, stream


@dataclass
class ClientLog:
    """Per user request: first send, answering attempt, response delay, attempts, last send."""

    sent_s: list = field(default_factory=list)
    delivery: list = field(default_factory=list)
    response_delay_s: list = field(default_factory=list)
    attempts: list = field(default_factory=list)
    last_sent_s: list = field(default_factory=list)
    ended: list = field(default_factory=list)
    timeout_s: float | None = None
    with_network: bool = False
    open_cycle: np.ndarray | None = None  # frozen: users still waiting at the end

    def freeze(self):
        self.open_cycle = ~np.asarray(self.ended, dtype=bool)
        self.sent_s = np.asarray(self.sent_s, dtype=float)
        self.delivery = np.asarray(self.delivery, dtype=np.int64)
        self.response_delay_s = np.asarray(self.response_delay_s, dtype=float)
        self.attempts = np.asarray(self.attempts, dtype=np.int64) if self.with_network else None
        self.last_sent_s = (np.asarray(self.last_sent_s, dtype=float) if self.with_network
                            else None)
        return self


class ClosedClient:
    """The client side of every user of a closed loop."""

    def __init__(self, flow, scenario, replication: int):
        self.flow, self.env = flow, flow.env
        overhead, self.network = scenario.service.overhead, scenario.network
        seed = scenario.seed
        self.before_s = _draws(overhead.before if overhead else None, seed, replication,
                               "overhead_before")
        self.after_s = _draws(overhead.after if overhead else None, seed, replication,
                              "overhead_after")
        network = self.network
        self.delay_s = _draws(network.delay if network else None, seed, replication,
                              "network_delay")
        self.loss_rng = stream(seed, replication, "network_loss")
        self.log = ClientLog(timeout_s=network.timeout if network else None,
                             with_network=network is not None)
        flow.client_log = self.log

    def user(self, think, classes):
        """Thinks, sends a request (and its retries), waits for the answer; again."""
        env, log = self.env, self.log
        while True:
            yield env.timeout(think())
            user = len(log.sent_s)
            for values in ((log.sent_s, env.now), (log.delivery, -1),
                           (log.response_delay_s, np.nan), (log.attempts, 0),
                           (log.last_sent_s, env.now), (log.ended, False)):
                values[0].append(values[1])
            yield from self._request(user, classes.next())
            log.ended[user] = True

    def _request(self, user: int, klass: int):
        env, log, network = self.env, self.log, self.network
        retries = network.max_retries if network else 0
        for retry in range(retries + 1):
            log.last_sent_s[user] = env.now
            log.attempts[user] += 1
            lost, leg = self._loss()
            reach_s = 0.0 if lost and leg == LEG_REQUEST else self.delay_s() + self.before_s()
            if lost:
                if leg != LEG_REQUEST:  # served, but the answer is lost
                    env.timeout(reach_s).callbacks.append(
                        lambda _e, k=klass: self._attempt(k, None))
                if retry == retries:  # the last one: the user gives up at its timeout
                    yield env.timeout(network.timeout)
                    return
                yield env.timeout(network.timeout + network.backoff
                                  * network.backoff_multiplier**retry)
                continue
            yield env.timeout(reach_s)
            answered = env.event()
            log.delivery[user] = self._attempt(klass, answered)
            response_s = log.response_delay_s[user] = self.after_s() + self.delay_s()
            yield answered  # served, or rejected or timed out: the answer travels back
            yield env.timeout(response_s)
            return

    def _attempt(self, klass: int, answered) -> int:
        """An attempt reaches the queue now; returns its server-side request index."""
        flow, now = self.flow, self.env.now
        first = flow.new_request(now, klass)
        request = first // flow.per_request
        if answered is not None:
            flow.waiters[request] = answered
        flow.send(first, now)
        return request

    def _loss(self) -> tuple[bool, int]:
        network = self.network
        if network is None or network.failure_probability == 0:
            return False, LEG_REQUEST
        rng = self.loss_rng
        lost = bool(rng.random() < network.failure_probability)
        if network.lost_on == "both":
            return lost, int(rng.random() < 0.5)
        return lost, LEG_REQUEST if network.lost_on == "request" else 1


def _draws(delay, seed: int, replication: int, name: str):
    """A function returning the next delay of `delay` from stream `name` (0 if none)."""
    if delay is None or delay.is_zero:
        return lambda: 0.0
    return delay_chunks(delay, stream(seed, replication, name))
