"""The SimPy model of a scenario with replicas behind a router and/or request classes.

Owns one replication of such a scenario. The plain single-queue, single-class
case never comes here: `engine` keeps its tight loop for it, and calls
`simulate_fleet` only when `replicas:` or `classes:` is set (so the features
cost nothing when unused).

Unlike the plain engine, arrivals are SimPy events here: a router has to see
the replicas' state at each arrival. Every random choice (class of each
request, router draws, tie breaks) is drawn before the run from its own
stream, so a replication is reproducible and the classes are the same
whatever the router. Each replica has its own class queue (`disciplines`),
batching policy instance, servers and service stream; batches of all
replicas go into one ledger, numbered in start order.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections import deque

import numpy as np
import simpy

from ..model.autoscaling import decide as autoscaling_decide
from ..model.faults import straggle_factors
from ..model.scenario import Scenario
from ..workload.closed import think_sampler
from ..workload.service import ServiceSampler
from .batching import INF, Dispatch
from .client_path import plan_client_path
from .disciplines import ClassQueue, ClassSpec
from .engine import _delay_until, expected_service, set_alarm
from .joins import join_stages
from .records import COMPLETED, FAILED, IN_FLIGHT, REJECTED, TIMED_OUT, ReplicationRecord
from .rng import stream


def simulate_fleet(scenario: Scenario, replication: int = 0) -> ReplicationRecord:
    """Run replication `replication` of a scenario with replicas and/or classes."""
    run = scenario.run
    env = simpy.Environment()
    client = None
    if scenario.is_closed_loop:
        fleet = Fleet(env, scenario, None, replication)
        fleet.start_users(stream(scenario.seed, replication, "clients"))
        end_s = run.duration
    else:
        times_s, classes = arrival_times(scenario, replication)
        if scenario.ensemble:  # one task per branch, in request order
            times_s = np.repeat(times_s, scenario.ensemble.branches)
        client = plan_client_path(scenario, times_s, replication)  # replicas only
        if client is not None:
            times_s = client.queue_arrival_s
        fleet = Fleet(env, scenario, times_s, replication, classes)
        env.process(fleet.arrivals())
        end_s = run.duration if run.requests is None else \
            float(times_s[-1]) if times_s.size else 0.0
    if end_s > 0:
        env.run(until=end_s)
    record = fleet.record(replication, end_s=end_s, warmup_s=run.fixed_warmup_s)
    return record if client is None else client.attach(record)


def class_specs(scenario: Scenario) -> list[ClassSpec]:
    """The queue's view of each class (one default class when `classes:` is absent)."""
    queue, slo = scenario.queue, scenario.slo
    default_slo_s = slo.latency if slo else INF
    if not scenario.classes:
        return [ClassSpec(0, default_slo_s, queue.timeout, "reject", None)]
    specs = []
    for c in scenario.classes:
        policy = c.queue_policy
        timeout_s, action = policy.timeout, policy.action
        if timeout_s is None:
            timeout_s, action = queue.timeout, "reject"
        deadline_s = c.slo if c.slo is not None else default_slo_s
        specs.append(ClassSpec(c.priority, deadline_s, timeout_s, action, policy.max_queue_size))
    return specs


def arrival_times(scenario: Scenario, replication: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The open-loop arrival times, and with superposition arrivals and `classes:` the
    class of each (class k is stream k); None when classes are drawn by share."""
    rng, run = stream(scenario.seed, replication, "arrivals"), scenario.run
    if scenario.classes and scenario.arrival.process == "superposition":
        return scenario.arrival.times_and_streams(rng, run.duration)
    return scenario.arrival.times_s(rng, horizon_s=run.duration, n=run.requests), None


def draw_classes(scenario: Scenario, replication: int, n: int) -> np.ndarray:
    """The class of every arrival, drawn by share from the `classes` stream."""
    if not scenario.classes:
        return np.zeros(n, dtype=np.int16)
    shares = np.array([c.share for c in scenario.classes])
    rng = stream(scenario.seed, replication, "classes")
    return rng.choice(len(shares), size=n, p=shares / shares.sum()).astype(np.int16)


class ClassDraws:
    """Classes drawn one at a time (closed loop: the number of requests is not known)."""

    def __init__(self, scenario: Scenario, replication: int):
        shares = [c.share for c in scenario.classes or ()]
        self.bounds = np.cumsum(shares)[:-1].tolist() if shares else []
        self.rng = stream(scenario.seed, replication, "classes")
        self.pending: list[float] = []

    def next(self) -> int:
        if not self.bounds:
            return 0
        if not self.pending:
            self.pending = self.rng.random(4096).tolist()
        return bisect.bisect_right(self.bounds, self.pending.pop())


class Ledger:
    """Every batch of every replica, in start order, and each request's batch."""

    def __init__(self):
        self.members = array("q")
        self.start_s: list[float] = []
        self.finish_s: list[float] = []
        self.size: list[int] = []
        self.charged: list[int] = []
        self.server: list[int] = []
        self.replica: list[int] = []
        self.ids: list[list[int]] = []  # members of each batch (closed loop, faults)
        self.keep_ids = False

    def open(self, ids: list[int], now: float, action: Dispatch, server: int,
             replica: int) -> int:
        self.members.extend(ids)
        self.start_s.append(now)
        self.finish_s.append(np.nan)
        self.size.append(action.size)
        self.charged.append(action.charged_size)
        self.server.append(server)
        self.replica.append(replica)
        if self.keep_ids:
            self.ids.append(ids)
        return len(self.start_s) - 1


class Replica:
    """One replica: its class queue, batching policy and servers."""

    def __init__(self, fleet: Fleet, index: int, factor: float, parts: tuple,
                 rng: np.random.Generator):
        scenario = fleet.scenario
        batching, service, self.servers = parts
        self.fleet, self.env, self.index, self.factor = fleet, fleet.env, index, factor
        self.policy = batching.build()
        self.policy.bind_service(expected_service(scenario, factor, service, batching))
        self.sample_s = ServiceSampler(service, rng, batching.largest_charged_size).sample_s
        self.first_server = fleet.servers_before(index)
        self.capacity = scenario.queue.capacity
        self.queue = ClassQueue(fleet.discipline, fleet.specs, fleet.at_s, fleet.klass)
        self.free: deque[int] = deque(range(self.servers))
        self.assigned = [self.env.event() for _ in range(self.servers)]
        self.in_service = 0
        self.alarm_s = INF
        self.busy: dict[int, int] = {}  # server id -> batch it serves
        self.down_count = 0  # overlapping outages
        self.standby = False  # autoscaling: not (yet, or no longer) taking new requests
        self.reserved = False  # autoscaling: asked for, being provisioned
        faults = scenario.faults
        self.in_flight = faults.in_flight if faults else "retry"
        self.straggle = fleet.straggle
        self.procs = [self.env.process(self.server(server_id))
                      for server_id in range(self.servers)]

    @property
    def outstanding(self) -> int:
        return len(self.queue) + self.in_service

    def receive(self, rid: int, now: float) -> None:
        """An arrival routed here: queued, or rejected by capacity or class policy."""
        self._expire(now)
        queue, policy = self.queue, self.policy
        if (len(queue) >= self.capacity or queue.full_for(self.fleet.klass[rid])
                or (policy.tracks_arrivals and not policy.admit(now))):
            self.fleet.outcome[rid] = REJECTED
            self.fleet.lost((rid,))
            return
        queue.push(rid)
        self.dispatch()

    def dispatch(self, _event: simpy.Event | None = None) -> None:
        """Cut batches until the policy waits; then set an alarm (policy or timeout)."""
        env, queue, free = self.env, self.queue, self.free
        now = env.now
        if now >= self.alarm_s:
            self.alarm_s = INF
        self._expire(now)
        decide = self.policy.decide
        while True:
            action = decide(now, len(queue), queue.oldest_s(), len(free))
            if action.__class__ is not Dispatch:
                break
            self._start_batch(action, now)
        set_alarm(self, now, min(action.until_s, queue.next_expiry_s()), action)

    def server(self, server_id: int):
        """Serves each batch it is handed (service time x this replica's factor x a
        straggler factor); an outage interrupts it (`_abort`)."""
        env, ledger, factor = self.env, self.fleet.ledger, self.factor
        policy, straggle = self.policy, self.straggle
        while True:
            try:
                batch = yield self.assigned[server_id]
                self.assigned[server_id] = env.event()
                service_s = self.sample_s(ledger.charged[batch]) * factor
                if straggle is not None:
                    service_s *= straggle()
                yield env.timeout(service_s)
            except simpy.Interrupt:
                self._abort(server_id)
                continue
            del self.busy[server_id]
            ledger.finish_s[batch] = env.now
            self.in_service -= ledger.size[batch]
            if ledger.keep_ids:
                self.fleet.finished(ledger.ids[batch])
            policy.completed(env.now, ledger.size[batch], service_s)
            if self.down_count == 0:
                self.free.append(server_id)
                self.dispatch()

    # -- outages -------------------------------------------------------------------------
    def go_down(self) -> None:
        """An outage starts: no server takes batches; the batches in service are cut."""
        self.down_count += 1
        if self.down_count == 1:
            self.free.clear()
            for server_id in list(self.busy):
                self.procs[server_id].interrupt("outage")

    def come_up(self) -> None:
        """An outage ends: every server is free again."""
        self.down_count -= 1
        if self.down_count == 0:
            self.free = deque(range(self.servers))
            self.dispatch()

    def _abort(self, server_id: int) -> None:
        """The batch on `server_id` is cut: its requests retry (head of queue) or fail."""
        self.assigned[server_id] = self.env.event()
        batch = self.busy.pop(server_id, None)
        if batch is None:  # it had just finished
            return
        ledger, fleet = self.fleet.ledger, self.fleet
        ids, size = ledger.ids[batch], ledger.size[batch]
        ledger.ids[batch], ledger.size[batch] = [], 0
        ledger.finish_s[batch] = self.env.now
        self.in_service -= size
        if self.in_flight == "retry":
            self.queue.requeue(ids)
        else:
            for rid in ids:
                fleet.outcome[rid] = FAILED
            fleet.lost(ids)

    def _start_batch(self, action: Dispatch, now: float) -> None:
        server_id = self.free.popleft()
        ids = self.queue.take(action.size)
        self.in_service += action.size
        batch = self.fleet.ledger.open(ids, now, action, self.first_server + server_id,
                                       self.index)
        self.busy[server_id] = batch
        self.assigned[server_id].succeed(batch)

    def _expire(self, now: float) -> None:
        queue = self.queue
        if not queue.timed:
            return
        dropped = queue.expire(now)
        if dropped:
            outcome = self.fleet.outcome
            for rid in dropped:
                outcome[rid] = TIMED_OUT
            self.fleet.lost(dropped)
            self.policy.dropped(len(dropped))


class Fleet:
    """The router and the replicas of one replication."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, times_s: np.ndarray,
                 replication: int, classes: np.ndarray | None = None):
        self.env, self.scenario = env, scenario
        self.waiters: dict[int, simpy.Event] | None = None
        if times_s is None:  # closed loop: requests are created during the run
            n = 0
            self.arrival_s = self.at_s = array("d")
            self.outcome, self.klass, self.replica_of = array("b"), array("h"), array("i")
            self.class_draws = ClassDraws(scenario, replication)
            self.waiters = {}
        else:
            if scenario.stages:  # request j is tasks j*S .. j*S+S-1; later stages' arrival
                stage_count = len(scenario.stages)  # times are written as they happen
                tasks = np.full(times_s.size * stage_count, np.nan)
                tasks[::stage_count] = times_s
                times_s = tasks
            n = times_s.size
            self.arrival_s, self.at_s = times_s, memoryview(times_s)
            self.outcome = np.zeros(n, dtype=np.int8)
            per_request = scenario.ensemble.branches if scenario.ensemble else \
                len(scenario.stages) if scenario.stages else 1
            if classes is None:
                classes = draw_classes(scenario, replication, n // per_request)
            self.klass = np.repeat(classes, per_request)
            self.replica_of = np.full(n, -1, dtype=np.int32)
        self.specs = class_specs(scenario)
        self.discipline = scenario.queue.discipline
        self.ledger = Ledger()
        self.ledger.keep_ids = (self.waiters is not None or scenario.faults is not None
                                or scenario.stages is not None)
        faults = scenario.faults
        self.straggle = straggle_factors(faults.stragglers if faults else None,
                                         stream(scenario.seed, replication, "faults", 1))
        self.next_arrival = 0
        self.stages = len(scenario.stages) if scenario.stages else 1
        self.ensemble = scenario.ensemble
        self.per_request = scenario.ensemble.branches if scenario.ensemble else self.stages
        self.answered: dict[int, int] = {}
        self.failed_branches: dict[int, int] = {}
        parts = scenario.stage_parts() or None
        replicas = scenario.replicas or scenario.ensemble
        count = (replicas.count if scenario.replicas else replicas.branches) if replicas \
            else self.stages
        scaling = scenario.autoscaling
        if scaling is not None:
            count = scaling.max_replicas
        factors = replicas.factors() if replicas and not scaling else [1.0] * count
        parts = parts or [(scenario.batching, scenario.service, scenario.servers.count)] * count
        self.server_counts = [p[2] for p in parts]
        self.replicas = [
            Replica(self, r, factors[r], parts[r],
                    stream(scenario.seed, replication, "service", r))
            for r in range(count)]
        if faults is not None:
            self._schedule_outages(faults, scenario.seed, replication)
        self.scaling_log: list[tuple[float, int, int]] | None = None  # (t, paid, active)
        if scaling is not None:
            for replica in self.replicas[scenario.replicas.count:]:
                replica.standby = True
            start = scenario.replicas.count
            self.scaling_log = [(0.0, start, start)]
            env.process(self._autoscaler(scaling))
        rule = scenario.replicas.router if scenario.replicas else "round_robin"
        self.router = Router(rule, self.replicas,
                             stream(scenario.seed, replication, "routing"), n)

    def start_users(self, rng: np.random.Generator) -> None:
        """Closed loop: one process per user, all drawing think times from `rng`."""
        think = think_sampler(self.scenario.arrival.think_time, rng)
        for _ in range(self.scenario.arrival.users):
            self.env.process(self.user(think))

    def user(self, think):
        """Thinks, sends a request, waits until it is answered or lost; again."""
        env = self.env
        while True:
            yield env.timeout(think())
            rid = self.new_request(env.now)
            answered = env.event()
            self.waiters[rid] = answered
            for task in range(rid, rid + (self.ensemble.branches if self.ensemble else 1)):
                self.route(task)
            yield answered

    def _next_up(self, target: int, rid: int) -> int:
        """Another replica for an arrival aimed at a down one (`target` if all are down):
        the up replica with the fewest queued + in service for the load-aware routers,
        one drawn at random among those up for round_robin and random."""
        router = self.router
        up = [k for k, r in enumerate(self.replicas) if not (r.down_count or r.standby)]
        if not up:
            return target
        if router.rule in ("round_robin", "random"):
            return up[int(router.uniform[rid] * len(up))]
        loads = [self.replicas[k].outstanding for k in up]
        return up[router._fewest(loads, rid)]

    def new_request(self, now: float) -> int:
        """Closed loop: a new request id sent at `now`, with its class and router draws."""
        rid, tasks = len(self.arrival_s), self.per_request
        later = now if self.ensemble else math.nan  # branches start together, stages later
        self.arrival_s.extend([now] + [later] * (tasks - 1))
        self.outcome.extend([0] * tasks)
        self.klass.extend([self.class_draws.next()] * tasks)
        self.replica_of.extend([-1] * tasks)
        self.router.ensure(rid + tasks - 1)
        return rid

    def servers_before(self, index: int) -> int:
        """Global id of replica (or stage) `index`'s first server."""
        counts = [self.scenario.servers.count] * index if not self.scenario.stages else \
            [parts[2] for parts in self.scenario.stage_parts()[:index]]
        return sum(counts)

    def finished(self, ids) -> None:
        """A batch completed: forward its tasks to the next stage, or wake their users."""
        if self.waiters is None and self.stages == 1:
            return
        if self.ensemble is not None:
            self._count(ids, self.answered, self.ensemble.needed)
            return
        stages = self.stages
        if stages == 1:
            self.resolved(ids)
            return
        now, at_s, done = self.env.now, self.at_s, []
        for rid in ids:
            stage = rid % stages + 1
            if stage < stages:
                at_s[rid + 1] = now
                self.replica_of[rid + 1] = stage
                self.replicas[stage].receive(rid + 1, now)
            else:
                done.append(rid)
        self.resolved(done)

    def lost(self, ids) -> None:
        """Tasks were rejected, timed out or failed: their users may be answered."""
        if self.ensemble is not None and self.waiters is not None:
            branches = self.ensemble.branches
            self._count(ids, self.failed_branches, branches - self.ensemble.needed + 1)
            return
        self.resolved(ids)

    def _count(self, ids, tally: dict[int, int], enough: int) -> None:
        """Ensemble in a closed loop: wake a user once `enough` of its branches did so."""
        if self.waiters is None:
            return
        branches = self.ensemble.branches
        for rid in ids:
            key = rid - rid % branches
            tally[key] = tally.get(key, 0) + 1
            if tally[key] == enough:
                self.resolved((key,))

    def resolved(self, ids) -> None:
        """Closed loop: wake the users whose requests completed or were lost (a
        pipeline's request is lost at any stage, completed at the last; ids are any
        task of the request)."""
        waiters, per_request = self.waiters, self.per_request
        if waiters is None:
            return
        for rid in ids:
            event = waiters.pop(rid - rid % per_request, None)
            if event is not None:
                event.succeed()

    def arrivals(self):
        """Routes each arrival at its time (a pipeline's to its first stage)."""
        env, at_s = self.env, self.at_s
        for rid in range(0, self.arrival_s.size, self.stages):
            now = env.now
            if at_s[rid] > now:
                yield env.timeout(_delay_until(now, at_s[rid]))
            self.route(rid)
            self.next_arrival = rid + self.stages

    def _autoscaler(self, config):
        """Every `interval`: add or retire one replica by the thresholds."""
        env = self.env
        while True:
            yield env.timeout(config.interval)
            active = [r for r in self.replicas if not r.standby]
            coming = sum(r.reserved for r in self.replicas)
            load = sum(r.outstanding for r in active) / max(len(active), 1)
            step = autoscaling_decide(load, len(active), coming, config)
            if step > 0:
                replica = next(r for r in self.replicas if r.standby and not r.reserved)
                replica.reserved = True
                self._log_scaling(+1, 0)
                env.process(self._provision(replica, config.provisioning_delay))
            elif step < 0:
                active[-1].standby = True
                self._log_scaling(-1, -1)

    def _provision(self, replica: Replica, delay_s: float):
        yield self.env.timeout(delay_s)
        replica.reserved, replica.standby = False, False
        self._log_scaling(0, +1)

    def _log_scaling(self, paid_step: int, active_step: int) -> None:
        _, paid, active = self.scaling_log[-1]
        self.scaling_log.append((self.env.now, paid + paid_step, active + active_step))

    def _schedule_outages(self, faults, seed: int, replication: int) -> None:
        """Given outages, and random ones from each replica's own stream (so a
        replica's failure times never depend on what else happens)."""
        for outage in faults.outages:
            self.env.process(self._outage(self.replicas[outage.replica], outage.at,
                                          outage.duration))
        if faults.mtbf is not None:
            for index, replica in enumerate(self.replicas):
                rng = stream(seed, replication, "faults", 2 + index)
                self.env.process(self._random_outages(replica, faults.mtbf, faults.mttr, rng))

    def _outage(self, replica: Replica, at_s: float, duration_s: float):
        yield self.env.timeout(at_s)
        replica.go_down()
        yield self.env.timeout(duration_s)
        replica.come_up()

    def _random_outages(self, replica: Replica, mtbf_s: float, mttr_s: float, rng):
        while True:
            yield self.env.timeout(rng.exponential(mtbf_s))
            replica.go_down()
            yield self.env.timeout(rng.exponential(mttr_s))
            replica.come_up()

    def route(self, rid: int) -> None:
        if self.ensemble is not None:
            target = rid % self.ensemble.branches
        else:
            target = self.router.pick(rid) if self.stages == 1 else 0
        chosen = self.replicas[target]
        if (chosen.down_count or chosen.standby) and not self.scenario.ensemble:
            target = self._next_up(target, rid)
        self.replica_of[rid] = target
        self.replicas[target].receive(rid, self.at_s[rid])

    def record(self, replication: int, end_s: float, warmup_s: float) -> ReplicationRecord:
        """Freeze what happened up to `end_s` into arrays."""
        if self.waiters is not None:
            self.arrival_s = np.frombuffer(self.arrival_s, dtype=float).copy()
            self.outcome = np.frombuffer(self.outcome, dtype=np.int8).copy()
            self.klass = np.frombuffer(self.klass, dtype=np.int16).copy()
            self.replica_of = np.frombuffer(self.replica_of, dtype=np.int32).copy()
            self.waiters = None
            self.next_arrival = self.arrival_s.size
        for rid in range(self.next_arrival, self.arrival_s.size, self.stages):
            if self.at_s[rid] > end_s:
                break
            self.route(rid)
        for replica in self.replicas:
            replica._expire(end_s)
        ledger = self.ledger
        sizes = np.asarray(ledger.size, dtype=np.int64)
        batch = np.full(self.arrival_s.size, -1, dtype=np.int64)
        members = np.frombuffer(ledger.members, dtype=np.int64) if not ledger.keep_ids else \
            np.fromiter((rid for ids in ledger.ids for rid in ids), dtype=np.int64)
        batch[members] = np.repeat(np.arange(sizes.size), sizes)
        finish_s = np.asarray(ledger.finish_s, dtype=float)
        outcome = self.outcome
        done = batch >= 0
        done[done] = ~np.isnan(finish_s[batch[done]])
        outcome[done] = COMPLETED
        scenario = self.scenario
        classes = scenario.classes
        record = ReplicationRecord(
            replication=replication, warmup_s=warmup_s, end_s=end_s,
            servers=sum(self.server_counts),
            timeout_s=scenario.queue.timeout,
            arrival_s=self.arrival_s, batch=batch, outcome=outcome,
            batch_start_s=np.asarray(ledger.start_s, dtype=float), batch_finish_s=finish_s,
            batch_size=sizes, batch_charged=np.asarray(ledger.charged, dtype=np.int64),
            batch_server=np.asarray(ledger.server, dtype=np.int64),
            replicas=len(self.replicas), replica_servers=tuple(self.server_counts),
            replica=self.replica_of if scenario.replicas or scenario.ensemble or scenario.stages
            else None,
            batch_replica=np.asarray(ledger.replica, dtype=np.int32),
            request_class=self.klass if classes else None,
            class_names=tuple(c.name for c in classes) if classes else None,
            class_slo_s=tuple(c.slo for c in classes) if classes else None,
            batch_cap=self._cap_history(),
            scaling=self._scaling_arrays())
        if scenario.ensemble:
            join_branches(record, scenario.ensemble.branches, scenario.ensemble.needed)
        if scenario.stages:
            join_stages(record, self.stages)
        return record

    def _scaling_arrays(self) -> dict[str, np.ndarray] | None:
        """Autoscaling: the step functions of replicas paid for and active, and the
        price of one replica per hour (NaN without a price)."""
        if self.scaling_log is None:
            return None
        t_s, paid, active = (np.array(c) for c in zip(*self.scaling_log, strict=True))
        price = self.scenario.server_cost_per_hour
        per_replica = np.nan if price is None else price * self.scenario.servers.count
        return {"t_s": t_s, "paid": paid, "active": active,
                "price_per_replica_hour": np.array(per_replica)}

    def _cap_history(self) -> np.ndarray | None:
        """Each batch's cap under `adaptive` batching, from its replica's policy."""
        histories = [getattr(r.policy, "cap_history", None) for r in self.replicas]
        if histories[0] is None:
            return None
        batch_replica = np.asarray(self.ledger.replica, dtype=np.int64)
        caps = np.zeros(batch_replica.size, dtype=np.int64)
        for index, history in enumerate(histories):
            caps[batch_replica == index] = history
        return caps


def join_branches(record: ReplicationRecord, branches: int, needed: int) -> None:
    """Ensemble: each request's answer is its `needed`-th branch to complete.

    Tasks j*branches .. j*branches + branches - 1 are request j's branches. The
    request's outcome is `completed` once `needed` have completed, `rejected`
    (else `timed_out`, else `failed`) once too many branches were lost for that
    ever to happen,
    else in flight. Fills the record's client arrays (sent_s, delivery, ...).
    """
    n = record.arrival_s.size // branches
    outcome = record.outcome.reshape(n, branches)
    finish_s = np.where(outcome == COMPLETED, record.finish_s.reshape(n, branches), np.inf)
    order = np.argsort(finish_s, axis=1, kind="stable")[:, needed - 1]
    rows = np.arange(n)
    answered = np.isfinite(finish_s[rows, order])
    record.sent_s = record.arrival_s[::branches].copy()
    record.delivery = np.where(answered, rows * branches + order, -1)
    record.response_delay_s = np.zeros(n)
    client = np.full(n, IN_FLIGHT, dtype=np.int8)
    client[answered] = COMPLETED
    rejected = (outcome == REJECTED).sum(axis=1)
    timed_out = (outcome == TIMED_OUT).sum(axis=1)
    lost = rejected + timed_out + (outcome == FAILED).sum(axis=1)
    doomed = ~answered & (lost > branches - needed)
    client[doomed] = np.where(rejected[doomed] > 0, REJECTED,
                              np.where(timed_out[doomed] > 0, TIMED_OUT, FAILED))
    record.client_outcome = client


class Router:
    """Picks the replica of each arrival; draws come from one pre-drawn stream."""

    def __init__(self, rule: str, replicas: list[Replica], rng: np.random.Generator, n: int):
        self.rule, self.replicas, self.count = rule, replicas, len(replicas)
        self.turn = -1
        self.pick = getattr(self, f"_{rule}")
        self.rng = rng
        self.uniform = array("d")
        self.pairs: list[list[int]] = []
        self._draw(n)

    def ensure(self, rid: int) -> None:
        """Draw more (closed loop) when request `rid` has no draws yet."""
        if rid >= len(self.uniform):
            self._draw(4096)

    def _draw(self, n: int) -> None:
        rng = self.rng
        self.uniform.extend(rng.random(n).tolist())
        if self.rule == "power_of_two":
            first = rng.integers(0, self.count, size=n)
            second = (first + rng.integers(1, self.count, size=n)) % self.count
            self.pairs.extend(np.stack([first, second], axis=1).tolist())

    def _round_robin(self, rid: int) -> int:
        self.turn = (self.turn + 1) % self.count
        return self.turn  # with an ensemble: task rid goes to branch rid % branches

    def _random(self, rid: int) -> int:
        return int(self.uniform[rid] * self.count)

    def _least_outstanding(self, rid: int) -> int:
        return self._fewest([r.outstanding for r in self.replicas], rid)

    def _join_shortest_queue(self, rid: int) -> int:
        return self._fewest([len(r.queue) for r in self.replicas], rid)

    def _power_of_two(self, rid: int) -> int:
        a, b = self.pairs[rid]
        load_a, load_b = self.replicas[a].outstanding, self.replicas[b].outstanding
        if load_a == load_b:
            return a if self.uniform[rid] < 0.5 else b
        return a if load_a < load_b else b

    def _fewest(self, loads: list[int], rid: int) -> int:
        least = min(loads)
        tied = [k for k, load in enumerate(loads) if load == least]
        return tied[int(self.uniform[rid] * len(tied))] if len(tied) > 1 else tied[0]
