"""Closed-loop users (`arrival.process: closed`): think, send, wait, repeat.

Owns the SimPy process of each user. A user thinks, sends a request, waits
until it is answered or lost, then thinks again. With a client path, each
send is an attempt: `service.overhead.before` and the request leg's network
delay before it reaches the queue, a lost attempt retried after the client's
timeout and backoff, the answer received after `overhead.after` and the
response leg; the user's cycle ends when the answer is received or the last
attempt's timeout expires. The user-side arrays (first send, answering
attempt, response delay, attempts, last send) are filled as the run goes.
"""

from __future__ import annotations

import bisect

import numpy as np

from .rng import chunked, delay_chunks, stream


class ClassDraws:
    """Classes drawn one at a time by share (the number of requests is not known)."""

    def __init__(self, scenario, replication: int):
        shares = [c.share for c in scenario.classes or ()]
        self.bounds = np.cumsum(shares)[:-1].tolist() if shares else []
        self.uniform = chunked(stream(scenario.seed, replication, "classes").random,
                               last_first=True)

    def next(self) -> int:
        if not self.bounds:
            return 0
        return bisect.bisect_right(self.bounds, self.uniform())


def start_users(flow, scenario, replication: int) -> None:
    """One process per user, all drawing think times from the `clients` stream."""
    think = delay_chunks(scenario.arrival.think_time, stream(scenario.seed, replication,
                                                             "clients"))
    classes = ClassDraws(scenario, replication)
    client = None
    if scenario.network is not None or scenario.service.overhead is not None:
        from .closed_client import ClosedClient

        client = ClosedClient(flow, scenario, replication)
    for _ in range(scenario.arrival.users):
        if client is None:
            flow.env.process(_user(flow, think, classes))
        else:
            flow.env.process(client.user(think, classes))


def _user(flow, think, classes):
    """Thinks, sends a request, waits until it is answered or lost; again."""
    env = flow.env
    while True:
        yield env.timeout(think())
        first = flow.new_request(env.now, classes.next())
        answered = env.event()
        flow.waiters[first // flow.per_request] = answered
        flow.send(first, env.now)
        yield answered
