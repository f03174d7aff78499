"""The SimPy model: one replication of a scenario, from arrivals to finished batches.

The only module with SimPy processes, and no file I/O or globals. The arrival
times are generated before the run (so every policy sees the same workload).
A replication has one process per server (serves the batches it is handed)
and an event-driven batcher: `dispatch` asks the batching policy what to do
whenever a server frees or an alarm rings. Arrivals are not SimPy events:
they are admitted lazily, in time order and each at its own arrival time,
whenever the model looks at the queue, and the batcher's alarm is set for the
arrival it actually waits for.
Requests are integer ids; their times live in lists and numpy arrays, never in
per-request SimPy objects. Statistics are computed afterwards by `metrics`.
"""

from __future__ import annotations

import math
from array import array
from collections import deque

import numpy as np
import simpy

from ..model.scenario import Scenario
from ..workload.service import ServiceSampler
from .batching import INF, Dispatch, reached
from .client_path import plan_client_path
from .records import COMPLETED, REJECTED, TIMED_OUT, ReplicationRecord
from .rng import stream


def simulate(scenario: Scenario, replication: int = 0) -> ReplicationRecord:
    """Run replication `replication` of `scenario` and return what it observed."""
    if scenario.uses_fleet:
        from .fleet import simulate_fleet

        return simulate_fleet(scenario, replication)
    arrivals = scenario.arrival
    run = scenario.run
    times_s = arrivals.times_s(stream(scenario.seed, replication, "arrivals"),
                               horizon_s=run.duration, n=run.requests)
    client = plan_client_path(scenario, times_s, replication)  # None: plain path
    if client is not None:
        times_s = client.queue_arrival_s
    env = simpy.Environment()
    pool = BatchPool(env, scenario, times_s, stream(scenario.seed, replication, "service"),
                     replication)
    env.timeout(0).callbacks.append(pool.dispatch)
    for server_id in range(scenario.servers.count):
        env.process(pool.server(server_id))
    end_s = run.duration if run.requests is None else float(times_s[-1]) if times_s.size else 0.0
    if end_s > 0:
        env.run(until=end_s)
    record = pool.record(replication, end_s=end_s, warmup_s=run.fixed_warmup_s)
    return record if client is None else client.attach(record)


class BatchPool:
    """One FIFO queue, one batching policy and `servers.count` identical servers."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, times_s: np.ndarray,
                 service_rng: np.random.Generator, replication: int = 0):
        self.env = env
        self.policy = scenario.batching.build()
        self.sampler = ServiceSampler(scenario.service, service_rng,
                                      scenario.batching.largest_charged_size)
        self.servers = scenario.servers.count
        self.capacity = scenario.queue.capacity
        self.timeout_s = scenario.queue.timeout
        self.arrival_s = times_s
        self.at_s = memoryview(times_s)  # fast scalar reads as Python floats
        self.outcome = np.zeros(times_s.size, dtype=np.int8)
        self.queue: deque[int] = deque()
        self.free: deque[int] = deque(range(self.servers))
        self.assigned = [env.event() for _ in range(self.servers)]
        self.admit = self.policy.admit if self.policy.tracks_arrivals else None
        self.learn = self.policy.completed if self.policy.learns else None
        self.policy.bind_service(expected_service(scenario))
        self.next_arrival = 0
        self.alarm_s = INF  # time of the earliest alarm set and not yet rung
        self.members = array("q")  # request ids in the order their batches started
        self.b_start: list[float] = []
        self.b_finish: list[float] = []
        self.b_size: list[int] = []
        self.b_charged: list[int] = []
        self.b_server: list[int] = []
        self.wakeup = scenario.servers.wakeup
        self.hot = False     # dispatching for a server that has just finished a batch
        self.waking = False  # an idle server is waking up: batches wait for it
        self.woken = False   # the wake-up is over: cut batches now
        self.idle_penalty = scenario.servers.idle_penalty
        self.free_since_s = [0.0] * self.servers  # when each server last finished a batch
        self.stalls = scenario.servers.stalls
        if self.stalls is not None:
            self.stall_rng = stream(scenario.seed, replication, "stalls")
            self.draw_stall_s = _delay_chunks(self.stalls.duration, self.stall_rng)
            self.next_stall_s = [self._stall_gap_s() for _ in range(self.servers)]
        if self.wakeup is not None:
            rng = stream(scenario.seed, replication, "wakeup")
            self.draw_wakeup_s = _delay_chunks(self.wakeup, rng)

    # -- arrivals (admitted lazily, in time order) -----------------------------------
    def catch_up(self, now: float) -> None:
        """Admit, in order, every arrival up to `now` that has not been seen yet.

        Between two events the queue only gains arrivals, so admitting them when
        the model next looks (each at its own arrival time) is exact, and costs
        no SimPy event per request.
        """
        first, arrival_s = self.next_arrival, self.arrival_s
        if first >= arrival_s.size or self.at_s[first] > now:
            return
        last = int(arrival_s.searchsorted(now, side="right"))
        self.next_arrival = last
        if self.admit is None and len(self.queue) + (last - first) <= self.capacity:
            self.queue.extend(range(first, last))
            return
        for rid in range(first, last):
            self._admit_one(rid, self.at_s[rid])

    def _admit_one(self, rid: int, at_s: float) -> None:
        if self.timeout_s is not None:
            self._purge(at_s)
        if len(self.queue) >= self.capacity or (self.admit is not None and not self.admit(at_s)):
            self.outcome[rid] = REJECTED
        else:
            self.queue.append(rid)

    def arrival_reaching_s(self, queue_len: float) -> float:
        """Earliest time the queue can reach `queue_len` by arrivals alone (INF if never).

        Exact without rejections and timeouts; otherwise a lower bound, and the
        dispatcher simply asks again when it wakes too early.
        """
        if queue_len > self.capacity:
            return INF
        index = self.next_arrival + int(queue_len) - len(self.queue) - 1
        return self.at_s[index] if index < self.arrival_s.size else INF

    # -- the batcher (event-driven) and the servers (SimPy processes) ------------------
    def dispatch(self, _event: simpy.Event | None = None) -> None:
        """Ask the policy what to do now: cut batches until it says wait, then set an alarm.

        Called when an alarm rings or a server frees. The alarm is for the policy's
        deadline or for the arrival that brings the queue to the length the policy
        waits for, whichever is first; an alarm already set for earlier stands.
        """
        env, queue, free, at_s = self.env, self.queue, self.free, self.at_s
        now = env.now
        if now >= self.alarm_s:
            self.alarm_s = INF
        self.catch_up(now)
        if self.timeout_s is not None:
            self._purge(now)
        decide = self.policy.decide
        while True:
            action = decide(now, len(queue), at_s[queue[0]] if queue else INF, len(free))
            if action.__class__ is not Dispatch:
                break
            if self.wakeup is not None and not (self.hot or self.woken):
                self._wake_up()  # an idle server: the batch is cut when it is awake
                return
            self._start_batch(action, now)
        set_alarm(self, now, min(action.until_s, self.arrival_reaching_s(action.until_len)),
                  action)

    def server(self, server_id: int):
        """Serves each batch it is handed, then reports itself free."""
        env, sample_s, learn = self.env, self.sampler.sample_s, self.learn
        while True:
            batch = yield self.assigned[server_id]
            self.assigned[server_id] = env.event()
            service_s = sample_s(self.b_charged[batch])
            if self.idle_penalty is not None:
                service_s += self.idle_penalty.extra_s(env.now - self.free_since_s[server_id])
            if self.stalls is not None:
                service_s += self._stalled_s(server_id, env.now, service_s)
            yield env.timeout(service_s)
            self.b_finish[batch] = self.free_since_s[server_id] = env.now
            if learn is not None:
                learn(env.now, self.b_size[batch], service_s)
            self.free.append(server_id)
            self.hot = True
            self.dispatch()
            self.hot = False

    def _stalled_s(self, server_id: int, start_s: float, service_s: float) -> float:
        """`servers.stalls`: how much longer the stalls striking this batch hold it
        (stalls that struck while the server was idle pass unnoticed)."""
        next_s = self.next_stall_s[server_id]
        if next_s < start_s:  # memoryless: the next one after the idle spell
            next_s = start_s + self._stall_gap_s()
        extra_s = 0.0
        while next_s < start_s + service_s + extra_s:
            extra_s += self.draw_stall_s()
            next_s += self._stall_gap_s()
        self.next_stall_s[server_id] = next_s
        return extra_s

    def _stall_gap_s(self) -> float:
        return float(self.stall_rng.exponential(self.stalls.every))

    def _wake_up(self) -> None:
        """`servers.wakeup`: ask the policy again once an idle server is awake."""
        if self.waking:
            return
        self.waking = True
        self.env.timeout(self.draw_wakeup_s()).callbacks.append(self._awake)

    def _awake(self, _event: simpy.Event) -> None:
        self.waking, self.woken = False, True
        self.dispatch()
        self.woken = False

    # -- helpers -----------------------------------------------------------------------
    def _start_batch(self, action: Dispatch, now: float) -> None:
        queue = self.queue
        self.members.extend(queue.popleft() for _ in range(action.size))
        server_id = self.free.popleft()
        batch = len(self.b_start)
        self.b_start.append(now)
        self.b_finish.append(np.nan)
        self.b_size.append(action.size)
        self.b_charged.append(action.charged_size)
        self.b_server.append(server_id)
        self.assigned[server_id].succeed(batch)

    def _purge(self, now: float) -> None:
        """Drop queued requests whose wait reached `queue.timeout` (oldest first)."""
        queue, at_s, timeout_s = self.queue, self.at_s, self.timeout_s
        dropped = 0
        while queue and reached(now, at_s[queue[0]] + timeout_s):
            self.outcome[queue.popleft()] = TIMED_OUT
            dropped += 1
        if dropped:
            self.policy.dropped(dropped)

    def record(self, replication: int, end_s: float, warmup_s: float) -> ReplicationRecord:
        """Freeze what happened up to `end_s` into arrays."""
        self.catch_up(end_s)
        if self.timeout_s is not None:
            self._purge(end_s)
        sizes = np.asarray(self.b_size, dtype=np.int64)
        batch = np.full(self.arrival_s.size, -1, dtype=np.int64)
        batch[np.frombuffer(self.members, dtype=np.int64)] = np.repeat(np.arange(sizes.size), sizes)
        finish_s = np.asarray(self.b_finish, dtype=float)
        outcome = self.outcome
        done = batch >= 0
        done[done] = ~np.isnan(finish_s[batch[done]])
        outcome[done] = COMPLETED
        return ReplicationRecord(
            replication=replication, warmup_s=warmup_s, end_s=end_s, servers=self.servers,
            timeout_s=self.timeout_s,
            arrival_s=self.arrival_s, batch=batch, outcome=outcome,
            batch_start_s=np.asarray(self.b_start, dtype=float), batch_finish_s=finish_s,
            batch_size=sizes, batch_charged=np.asarray(self.b_charged, dtype=np.int64),
            batch_server=np.asarray(self.b_server, dtype=np.int64),
            batch_cap=_cap_history(self.policy))


def expected_service(scenario: Scenario, factor: float = 1.0, service=None, batching=None):
    """E[S(k)] of a batch of k requests (padding included), times `factor`."""
    service, batching = service or scenario.service, batching or scenario.batching

    def mean_s(size: int) -> float:
        return factor * service.mean_s(batching.charged_size(size))

    return mean_s


def _cap_history(policy) -> np.ndarray | None:
    history = getattr(policy, "cap_history", None)
    return None if history is None else np.asarray(history, dtype=np.int64)


def _delay_chunks(delay, rng: np.random.Generator):
    """A function returning the next of `delay`'s draws (sampled 4096 at a time)."""
    buffer: list[float] = []

    def next_s() -> float:
        if not buffer:
            buffer.extend(reversed(delay.sample_s(rng, 4096).tolist()))
        return buffer.pop()

    return next_s


def set_alarm(model, now: float, until_s: float, action) -> None:
    """Ring `model.dispatch` at `until_s` unless an earlier alarm is already set.

    `model` is a pool with `env`, `policy`, `alarm_s` and `dispatch` (the plain
    pool here, a replica in `fleet`). Waiting for a time already reached would
    loop for ever: that is a policy bug, raised at once.
    """
    if until_s <= now:
        raise RuntimeError(f"batching policy {model.policy.config.policy!r} waits for "
                           f"{action} at t={now!r}: a time already reached")
    if until_s < model.alarm_s:
        model.alarm_s = until_s
        model.env.timeout(_delay_until(now, until_s)).callbacks.append(model.dispatch)


def _delay_until(now: float, at_s: float) -> float:
    """A delay d >= 0 with now + d >= at_s in floating point (an alarm is never early)."""
    delay = max(at_s - now, 0.0)
    while now + delay < at_s:
        delay = math.nextafter(delay, INF)
    return delay

