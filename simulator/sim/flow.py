"""The path of a request through the system: stages in order, each a pool (or,
with an ensemble, one pool per branch), fed by the open-loop source or by
closed-loop users.

Owns the per-task arrays of one replication (arrival time, outcome, class,
replica), the lazy admission of open-loop arrivals (`catch_up`: every arrival
up to now, in time order, each at its own time), forwarding a request to its
next stage when a stage answers it, and telling closed-loop users that their
request was answered or lost. Request j is tasks j*P .. j*P + P - 1 (see
`answers.TaskLayout`).
"""

from __future__ import annotations

import bisect
import heapq
from array import array

import numpy as np

from .answers import TaskLayout
from .batching import INF
from .ledger import Ledger
from .replica import delay_until


class Flow:
    """Stages of pools, the task arrays and the arrival source of one replication."""

    def __init__(self, env, layout: TaskLayout, keep_ids: bool, in_flight: str):
        self.env, self.layout = env, layout
        self.per_request = layout.per_request
        self.offsets = layout.offsets
        self.slot_stage = [s for s, b in enumerate(layout.branches) for _ in range(b)]
        self.ledger = Ledger(keep_ids)
        self.in_flight = in_flight
        self.stages: list[list] = []  # per stage, its pools (one per branch)
        self.forwarding = len(layout.branches) > 1
        self.waiters: dict[int, object] | None = None  # closed loop: request -> event
        self.answered: dict[tuple[int, int], int] = {}
        self.failed: dict[tuple[int, int], int] = {}
        self.scaling_log: list[tuple[float, int, int]] | None = None
        self.times_s = np.empty(0)
        self.next_arrival = 0
        self.next_s = INF  # time of the next source arrival not yet admitted
        self.client_log = None  # closed loop with a client path: the users' side
        self.entry = None  # the only replica fed by the source, when there is one
        self.wanted: list[tuple[int, int, object]] = []  # (arrival index, replica index, replica)
        self.alarm_s = INF  # the earliest pending arrival alarm
        self.holding = 0  # > 0 while more looks at this instant are to come (no look-ahead)

    # -- the task arrays -----------------------------------------------------------------
    def open_loop(self, times_s: np.ndarray, classes: np.ndarray) -> None:
        """Requests arriving at `times_s` (sorted), with the class of each."""
        per = self.per_request
        self.times_s, self.at_times = times_s, memoryview(times_s)
        self.next_s = float(times_s[0]) if times_s.size else INF
        if per == 1:
            self.arrival_s = times_s
        else:  # later stages' arrival times are written as they happen
            self.arrival_s = np.full(times_s.size * per, np.nan)
            for b in range(self.layout.branches[0]):
                self.arrival_s[b::per] = times_s
        n = self.arrival_s.size
        self.at_s = memoryview(self.arrival_s)
        self.outcome = np.zeros(n, dtype=np.int8)
        self.klass = np.repeat(classes, per) if per > 1 else classes
        self.replica_of = np.full(n, -1, dtype=np.int32)

    def closed_loop(self) -> None:
        """Requests are created during the run (`new_request`)."""
        self.arrival_s = self.at_s = array("d")
        self.outcome, self.klass, self.replica_of = array("b"), array("h"), array("i")
        self.waiters = {}

    def new_request(self, now: float, klass: int) -> int:
        """Closed loop: a new request sent at `now`; returns its first task id."""
        per, first = self.per_request, len(self.arrival_s)
        branches0 = self.layout.branches[0]
        self.arrival_s.extend([now] * branches0 + [np.nan] * (per - branches0))
        self.outcome.extend([0] * per)
        self.klass.extend([klass] * per)
        self.replica_of.extend([-1] * per)
        return first

    # -- open-loop arrivals, admitted lazily ---------------------------------------------
    def catch_up(self, now: float) -> None:
        """Route, in order, every source arrival up to `now` not yet seen (each at its
        own arrival time): between two events the queues only gain arrivals, so this
        is exact and costs no SimPy event per request."""
        if now < self.next_s:
            return
        first, times = self.next_arrival, self.at_times
        last = bisect.bisect_right(times, now, first, min(first + 64, len(times)))
        if last == first + 64:  # a long run: search the rest in numpy
            last = int(self.times_s.searchsorted(now, side="right"))
        self.next_arrival = last
        self.next_s = times[last] if last < len(times) else INF
        per = self.per_request
        if self.entry is not None:
            self.entry.receive_run(first * per, last * per, per, self.at_s)
            return
        pools = self.stages[0]
        if len(pools) == 1 and per == 1:
            pools[0].route_run(first, last, self.at_s)
            return
        for j in range(first, last):
            at_s, base = times[j], j * per
            for b, pool in enumerate(pools):
                pool.route(base + b, at_s)

    def reaching_s(self, count: int) -> float:
        """Earliest time `count` more source arrivals have come (INF if never)."""
        index = self.next_arrival + count - 1
        return self.at_times[index] if index < self.times_s.size else INF

    def wake_on_arrival(self, replica, count: int) -> None:
        """Look at `replica` again when `count` more source arrivals have come. One
        alarm serves every replica, set for the earliest arrival any of them waits for;
        an early look is harmless (the replica asks again)."""
        index = self.next_arrival + count - 1
        if index >= self.times_s.size:
            return
        replica.wanted = index
        heapq.heappush(self.wanted, (index, replica.index, replica))
        self._arm(index)

    def _arm(self, index: int) -> None:
        at_s = self.at_times[index]
        if at_s < self.alarm_s:
            self.alarm_s = at_s
            now = self.env.now
            self.env.timeout(delay_until(now, at_s)).callbacks.append(self._arrival_alarm)

    def _arrival_alarm(self, _event) -> None:
        """Wake the replicas whose awaited arrival has come; set the next alarm."""
        now, wanted = self.env.now, self.wanted
        if now >= self.alarm_s:
            self.alarm_s = INF
        self.catch_up(now)
        due = []
        while wanted and wanted[0][0] < self.next_arrival:
            index, _, replica = heapq.heappop(wanted)
            if replica.wanted == index:
                replica.wanted = -1
                due.append(replica)
        while wanted and wanted[0][2].wanted != wanted[0][0]:
            heapq.heappop(wanted)  # stale: that replica has looked again since
        if wanted:  # first, so that no replica woken now looks ahead past it
            self._arm(wanted[0][0])
        self.look_at_once(due)

    def look_at_once(self, replicas: list) -> None:
        """Dispatch each replica at this instant; only the last may look ahead."""
        self.holding += 1
        for replica in replicas[:-1]:
            replica.dispatch()
        self.holding -= 1
        if replicas:
            replicas[-1].dispatch()

    def start(self, _event=None) -> None:
        """The first look of every replica fed by the source."""
        self.look_at_once([r for pool in self.stages[0] for r in pool.replicas])

    def send(self, first_task: int, now: float) -> None:
        """A request's stage-0 tasks reach their pools now (closed loop, retries)."""
        self._enter(0, first_task, now)

    def _enter(self, stage: int, first_task: int, now: float) -> None:
        """Tasks first_task, ... (one per branch of `stage`) reach their pools now."""
        targets = [pool.route(first_task + b, now) for b, pool in enumerate(self.stages[stage])]
        self.look_at_once(targets)

    # -- answers -------------------------------------------------------------------------
    def finished(self, tasks) -> None:
        """A batch completed: forward its requests to their next stage, or wake users."""
        if not self.forwarding and self.waiters is None:
            return
        per, branches = self.per_request, self.layout.branches
        for task in tasks:
            request, slot = divmod(task, per)
            stage = self.slot_stage[slot]
            if branches[stage] > 1 and not self._enough(request, stage, self.answered,
                                                        self.layout.needed[stage]):
                continue
            if stage + 1 < len(branches):
                self._forward(request, stage + 1)
            else:
                self._resolve(request, True)

    def _forward(self, request: int, stage: int) -> None:
        now, first = self.env.now, request * self.per_request + self.offsets[stage]
        for b in range(len(self.stages[stage])):
            self.arrival_s[first + b] = now
        self._enter(stage, first, now)

    def lost(self, tasks) -> None:
        """Tasks were rejected, timed out or failed: their requests may be lost."""
        if self.waiters is None:
            return
        per, branches, needed = self.per_request, self.layout.branches, self.layout.needed
        for task in tasks:
            request, slot = divmod(task, per)
            stage = self.slot_stage[slot]
            spare = branches[stage] - needed[stage]
            if branches[stage] == 1 or self._enough(request, stage, self.failed, spare + 1):
                self._resolve(request, False)

    @staticmethod
    def _enough(request: int, stage: int, tally: dict, enough: int) -> bool:
        """Count one more for (request, stage); True exactly when it reaches `enough`."""
        key = (request, stage)
        tally[key] = count = tally.get(key, 0) + 1
        return count == enough

    def _resolve(self, request: int, answered: bool) -> None:
        """Closed loop: wake the user waiting for `request` (answered or lost)."""
        if self.waiters is not None:
            event = self.waiters.pop(request, None)
            if event is not None:
                event.succeed(answered)

    # -- autoscaling log -----------------------------------------------------------------
    def log_scaling(self, paid_step: int, active_step: int) -> None:
        _, paid, active = self.scaling_log[-1]
        self.scaling_log.append((self.env.now, paid + paid_step, active + active_step))
