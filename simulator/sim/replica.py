"""One replica: its queue, its batching policy and its servers.

Owns the batcher of one replica (`dispatch`: ask the policy, cut batches,
set the next alarm), admission to its queue, timeouts, the server processes
(SimPy) and outages. A plain scenario is one replica; replicas, pipeline
stages and ensemble branches are built of the same class by `pool` and
`flow`. Arrivals from the open-loop source are admitted lazily, in time
order and each at its own arrival time, whenever the model next looks
(`Flow.catch_up`); the alarm is set for the arrival the policy waits for.
"""

from __future__ import annotations

import math
from collections import deque

import simpy

from .batching import INF, Dispatch
from .records import FAILED, REJECTED, TIMED_OUT


class Replica:
    """A queue, a batching policy instance and `servers` identical servers."""

    def __init__(self, flow, index: int, queue, policy, servers: int, times, capacity: int,
                 fed_by_source: bool):
        self.flow, self.env, self.index = flow, flow.env, index
        self.queue, self.policy, self.servers, self.times = queue, policy, servers, times
        self.capacity = capacity
        self.fed_by_source = fed_by_source
        self.admit = policy.admit if policy.tracks_arrivals else None
        self.learn = policy.completed if policy.learns else None
        self.plain_admission = queue.bulk and self.admit is None
        """Nothing to check on admission but the capacity (no timeouts, class limits or
        policy admission)."""
        self.wakes = times.wakeup_s is not None
        self.advances = not self.wakes
        """Looks ahead to its next batch when nothing else happens before (not while a
        wake-up, which starts from the real clock, may be due)."""
        self.free: deque[int] = deque(range(servers))
        self.assigned = [self.env.event() for _ in range(servers)]
        self.handed: list[tuple | None] = [None] * servers  # (batch, time) given directly
        self.handed_until_s = INF  # when the batch handed directly will finish
        self.busy: dict[int, int] = {}  # server -> batch it serves
        self.in_service = 0
        self.alarm_s = INF
        self.down_count = 0
        self.standby = False   # autoscaling: not (yet, or no longer) taking requests
        self.reserved = False  # autoscaling: asked for, being provisioned
        self.hot = -1          # the server that has just finished (dispatching for it)
        self.waking = False    # an idle server is waking up: batches wait for it
        self.woken = False     # the wake-up is over: cut batches now
        self.first_server = 0  # global id of server 0 (set by the flow)
        self.wanted = -1       # the source arrival this replica waits for (flow's alarm)
        self.procs = [self.env.process(self.server(s)) for s in range(servers)]

    @property
    def outstanding(self) -> int:
        return self.queue.size + self.in_service

    # -- admission -----------------------------------------------------------------------
    def receive(self, task: int, at_s: float) -> None:
        """Task `task` reaches the queue at `at_s`: queued, or rejected."""
        queue = self.queue
        if self.plain_admission and queue.size < self.capacity:
            queue.push(task)
            return
        if queue.timed:
            self._expire(at_s)
        if (queue.size >= self.capacity or queue.full_for(self.flow.klass[task])
                or (self.admit is not None and not self.admit(at_s))):
            self.flow.outcome[task] = REJECTED
            self.flow.lost((task,))
        else:
            queue.push(task)

    def receive_run(self, first: int, last: int, step: int, at_s) -> None:
        """Tasks first, first + step, ... < last reach the queue, each at its own time."""
        queue = self.queue
        count = (last - first + step - 1) // step
        if queue.bulk and self.admit is None and queue.size + count <= self.capacity:
            queue.push_range(first, last, step)
            return
        for task in range(first, last, step):
            self.receive(task, at_s[task])

    # -- the batcher ---------------------------------------------------------------------
    def dispatch(self, _event: simpy.Event | None = None) -> None:
        """Ask the policy what to do now: cut batches until it waits; then look again at
        once if nothing else happens before its next look (the deadline, the arrival it
        waits for, the next timeout), else set an alarm for that look. So an idle
        replica sleeps straight to its next batch, with no event in between. It never
        looks ahead while another look at this instant is still to come
        (`flow.holding`): that look must not find arrivals from the future."""
        now = real_s = self.env.now
        if now >= self.alarm_s:
            self.alarm_s = INF
        self.wanted = -1
        self.handed_until_s = INF
        while True:
            action = self._look(now)
            if action is None:  # an idle server is waking up
                return
            next_s, count = self._next_look(action)
            if (self.advances and not self.flow.holding
                    and now < next_s < min(self.env.peek(), self.handed_until_s)):
                now = next_s
                continue
            if count:
                self.flow.wake_on_arrival(self, count)
            elif next_s < self.alarm_s or next_s <= now:
                self._set_alarm(now, real_s, next_s, action)
            return

    def _look(self, now: float):
        """Admit what arrived by `now`, drop what timed out, cut every batch the policy
        wants; returns its `Wait` (None while an idle server wakes up)."""
        if now >= self.flow.next_s:
            self.flow.catch_up(now)
        queue = self.queue
        if queue.timed:
            self._expire(now)
        decide, free = self.policy.decide, self.free
        while True:
            action = decide(now, queue.size, queue.oldest_s(), len(free))
            if action.__class__ is not Dispatch:
                return action
            if self.wakes and not (self.hot >= 0 or self.woken):
                self.policy.retract(action)
                self._wake_up()  # an idle server: the batch is cut when it is awake
                return None
            self._start_batch(action, now)

    def _next_look(self, action) -> tuple[float, int]:
        """When to look again, and how many more source arrivals that waits for (0 when
        it waits for a time: the policy's deadline or the next timeout)."""
        until_s = action.until_s
        if self.queue.timed:
            until_s = min(until_s, self.queue.next_expiry_s())
        if self.fed_by_source and action.until_len <= self.capacity:
            count = int(action.until_len) - self.queue.size
            reach_s = self.flow.reaching_s(count)
            if reach_s < until_s:  # the arrival comes first
                return reach_s, count
        return until_s, 0

    def _set_alarm(self, now: float, real_s: float, until_s: float, action) -> None:
        if until_s <= now:
            raise RuntimeError(f"batching policy {self.policy.config.policy!r} waits for "
                               f"{action} at t={now!r}: a time already reached")
        self.alarm_s = until_s
        self.env.timeout(delay_until(real_s, until_s)).callbacks.append(self.dispatch)

    def _start_batch(self, action: Dispatch, now: float) -> None:
        server = self.free.popleft()
        tasks = self.queue.take(action.size)
        self.in_service += action.size
        batch = self.flow.ledger.open(tasks, now, action, self.first_server + server,
                                      self.index)
        self.busy[server] = batch
        if server == self.hot:  # the server that has just finished: no event to hand over
            service_s = self._batch_s(server, action.charged_size, now)
            self.handed[server] = (batch, service_s)
            self.handed_until_s = now + service_s
        else:
            self.assigned[server].succeed(batch)

    def _batch_s(self, server: int, charged: int, start_s: float) -> float:
        if self.times.plain:
            return self.times.sample_s(charged)
        return self.times.batch_s(server, charged, start_s)

    def _wake_up(self) -> None:
        """`servers.wakeup`: ask the policy again once an idle server is awake."""
        if self.waking:
            return
        self.waking = True
        self.env.timeout(self.times.wakeup_s()).callbacks.append(self._awake)

    def _awake(self, _event: simpy.Event) -> None:
        self.waking, self.woken = False, True
        self.dispatch()
        self.woken = False

    def _expire(self, now: float) -> None:
        dropped = self.queue.expire(now)
        if dropped:
            outcome = self.flow.outcome
            for task in dropped:
                outcome[task] = TIMED_OUT
            self.policy.dropped(len(dropped))
            self.flow.lost(dropped)

    # -- the servers ---------------------------------------------------------------------
    def server(self, server: int):
        """Serves each batch it is handed; an outage interrupts it (`_abort`)."""
        env, ledger = self.env, self.flow.ledger
        while True:
            try:
                handed = self.handed[server]
                if handed is None:
                    batch = yield self.assigned[server]
                    self.assigned[server] = env.event()
                    start_s = ledger.start_s[batch]  # may be ahead of the clock
                    service_s = self._batch_s(server, ledger.charged[batch], start_s)
                else:
                    self.handed[server] = None
                    batch, service_s = handed
                    start_s = ledger.start_s[batch]
                yield env.timeout(start_s - env.now + service_s)
            except simpy.Interrupt:
                self._abort(server)
                continue
            self._finish(server, batch, start_s + service_s, service_s)

    def _finish(self, server: int, batch: int, end_s: float, service_s: float) -> None:
        """The batch ends (at `end_s` = start + service, exactly; the clock may differ in
        the last bit after a look-ahead)."""
        ledger, now = self.flow.ledger, self.env.now
        if now >= self.flow.next_s:
            self.flow.catch_up(now)  # arrivals before this route by the state before it
        del self.busy[server]
        ledger.finish_s[batch] = self.times.free_since_s[server] = end_s
        size = ledger.size[batch]
        self.in_service -= size
        if self.learn is not None:
            self.learn(now, size, service_s)
        if ledger.keep_ids:
            self.flow.holding += 1  # this replica looks after the next stage's replicas
            self.flow.finished(ledger.ids[batch])
            self.flow.holding -= 1
        if self.down_count == 0:
            self.free.append(server)
            self.hot = server
            self.dispatch()
            self.hot = -1

    # -- outages -------------------------------------------------------------------------
    def go_down(self) -> None:
        """An outage starts: no server takes batches; the batches in service are cut."""
        self.flow.catch_up(self.env.now)
        self.down_count += 1
        if self.down_count == 1:
            self.free.clear()
            self.policy.outage()
            for server in list(self.busy):
                self.procs[server].interrupt("outage")

    def come_up(self) -> None:
        """An outage ends: every server is free again."""
        self.flow.catch_up(self.env.now)
        self.down_count -= 1
        if self.down_count == 0:
            self.free = deque(range(self.servers))
            self.flow.holding += 1  # no look-ahead: the outage process schedules next
            self.dispatch()
            self.flow.holding -= 1

    def _abort(self, server: int) -> None:
        """The batch on `server` is cut: its tasks retry (head of queue) or fail."""
        self.assigned[server] = self.env.event()
        self.handed[server] = None
        batch = self.busy.pop(server, None)
        if batch is None:  # it had just finished
            return
        ledger, flow = self.flow.ledger, self.flow
        tasks, size = ledger.ids[batch], ledger.size[batch]
        ledger.ids[batch], ledger.size[batch] = [], 0
        ledger.finish_s[batch] = self.env.now
        self.in_service -= size
        self.times.free_since_s[server] = self.env.now
        if flow.in_flight == "retry":
            self.queue.requeue(tasks)
            self.policy.requeued(size)
        else:
            for task in tasks:
                flow.outcome[task] = FAILED
            flow.lost(tasks)


def delay_until(now: float, at_s: float) -> float:
    """A delay d >= 0 with now + d >= at_s in floating point (an alarm is never early)."""
    delay = max(at_s - now, 0.0)
    while now + delay < at_s:
        delay = math.nextafter(delay, INF)
    return delay
