"""Invariants on many random scenarios: the books balance (`assert_conserved`) for every
batching policy, alone and with replicas, classes and faults; FIFO holds; each policy
obeys its own dispatch rule; and the requests' times are consistent."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.model.scenario import Scenario
from simulator.sim import simulate
from simulator.sim.batching import BATCHING_POLICIES
from simulator.sim.records import COMPLETED, IN_FLIGHT, REJECTED, TIMED_OUT

from invariants import assert_conserved

EPS = 1e-9
POLICIES = list(BATCHING_POLICIES)
"""Every registered policy (adaptive and slo_aware included)."""
ROUTERS = ["round_robin", "random", "least_outstanding", "join_shortest_queue", "power_of_two"]


def _policy_knobs(draw, policy: str, size: int, service_s: float) -> dict:
    """The knobs a policy needs beyond the common two (`service_s`: a full batch's mean)."""
    if policy == "tfserving":
        return {"max_enqueued_batches": draw(st.integers(1, 20))}
    if policy == "adaptive":
        return {"latency_objective": service_s * draw(st.sampled_from([0.6, 1.0, 2.0])),
                "initial_cap": draw(st.integers(1, size)),
                "multiplicative_decrease": draw(st.sampled_from([0.1, 0.5]))}
    if policy == "slo_aware":
        return {"latency_objective": service_s * draw(st.sampled_from([1.5, 3.0, 10.0])),
                "slack": service_s * draw(st.sampled_from([0.0, 0.5]))}
    return {}


@st.composite
def scenario_data(draw, policies=POLICIES, timeouts=True, replicas=1):
    policy = draw(st.sampled_from(policies))
    size = 1 if policy == "none" else draw(st.integers(1, 12))
    delay_ms = draw(st.sampled_from([0, 0.5, 2, 5]))
    servers = draw(st.integers(1, 3))
    base_ms, per_item_ms = draw(st.sampled_from([1, 2, 4])), draw(st.sampled_from([0, 0.25, 1]))
    service_s = (base_ms + per_item_ms * size) / 1000
    capacity = replicas * servers * size / service_s
    rate = capacity * draw(st.sampled_from([0.2, 0.5, 0.8, 0.95, 1.3]))
    arrival = draw(st.sampled_from([
        {"process": "poisson", "rate": rate},
        {"process": "gamma", "rate": rate, "cv": 2.0},
        {"process": "constant", "rate": rate},
        {"process": "onoff", "rate_on": 2 * rate, "rate_off": 0, "mean_on": 0.05,
         "mean_off": 0.05},
    ]))
    distribution = draw(st.sampled_from(["deterministic", "exponential", "lognormal"]))
    batching = {"policy": policy, "max_batch_size": size, "max_queue_delay": delay_ms / 1000,
                **_policy_knobs(draw, policy, size, service_s)}
    queue = {"capacity": draw(st.sampled_from([5, 50, 100000]))}
    if timeouts and draw(st.booleans()):
        queue["timeout"] = draw(st.sampled_from([0.002, 0.02, 0.2]))
    n = min(3000, max(200, int(rate * 2)))
    return {
        "name": "inv", "seed": draw(st.integers(0, 2**32)),
        "run": {"requests": n, "replications": 1},
        "arrival": arrival, "batching": batching,
        "service": {"base": base_ms / 1000, "per_item": per_item_ms / 1000,
                    "distribution": distribution,
                    **({"cv": 0.5} if distribution == "lognormal" else {})},
        "servers": {"count": servers}, "queue": queue,
    }


@st.composite
def scenarios(draw, policies=POLICIES, timeouts=True):
    return Scenario.model_validate(draw(scenario_data(policies, timeouts)))


@st.composite
def combined_scenarios(draw, policies=POLICIES):
    """A scenario with replicas behind a router, two request classes and faults (outages
    with in-flight batches retried or lost, stragglers), for a few thousand requests."""
    count = draw(st.integers(2, 3))
    data = draw(scenario_data(policies, replicas=count))
    duration_s = max(0.5, data["run"]["requests"] / data["arrival"].get("rate", 1000))
    data["run"] = {"duration": duration_s, "replications": 1}
    data["replicas"] = {"count": count, "router": draw(st.sampled_from(ROUTERS))}
    data["classes"] = [{"name": "gold", "share": 0.3, "priority": 1, "slo": 0.05},
                       {"name": "bronze", "share": 0.7, "slo": 0.2}]
    data["queue"]["discipline"] = draw(st.sampled_from(["fifo", "priority", "edf"]))
    data["faults"] = {"mtbf": duration_s / draw(st.sampled_from([2, 5])),
                      "mttr": duration_s / 20,
                      "in_flight": draw(st.sampled_from(["retry", "lost"])),
                      "stragglers": {"fraction": 0.05, "slowdown": 3}}
    return Scenario.model_validate(data)


def settings_for(n):
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("policy", POLICIES)
@settings_for(25)
@given(data=st.data())
def test_books_balance_and_times_are_consistent(policy, data):
    scenario = data.draw(scenarios(policies=[policy]))
    r = simulate(scenario, 0)
    assert_conserved(r)
    # no faults here: every batch holds a request, within the policy's limit, and takes time
    assert np.all(r.batch_size >= 1)
    assert np.all(r.batch_size <= scenario.batching.max_batch_size)
    done = ~np.isnan(r.batch_finish_s)
    assert np.all(r.batch_finish_s[done] > r.batch_start_s[done])
    _check_timeouts(scenario, r)


@pytest.mark.parametrize("policy", POLICIES)
@settings_for(8)
@given(data=st.data())
def test_books_balance_with_replicas_classes_and_faults(policy, data):
    scenario = data.draw(combined_scenarios(policies=[policy]))
    r = simulate(scenario, 0)
    assert_conserved(r)
    assert np.all(r.batch_size <= scenario.batching.max_batch_size)
    started = r.batch >= 0
    assert np.array_equal(r.batch_replica[r.batch[started]], r.replica[started])
    assert np.all(np.isin(r.request_class, [0, 1]))


def _check_timeouts(scenario, r):
    timeout_s = scenario.queue.timeout
    started = r.batch >= 0
    if timeout_s is None:
        assert not (r.outcome == TIMED_OUT).any()
        return
    waited = r.start_s[started] - r.arrival_s[started]
    assert np.all(waited < timeout_s + EPS)
    dropped = r.outcome == TIMED_OUT
    assert np.all(r.arrival_s[dropped] + timeout_s <= r.end_s + EPS)
    queued_at_end = (r.outcome == IN_FLIGHT) & ~started
    assert np.all(r.arrival_s[queued_at_end] + timeout_s > r.end_s - EPS)


@settings_for(120)
@given(scenarios())
def test_fifo_start_order(scenario):
    r = simulate(scenario, 0)
    started = r.batch >= 0
    starts = r.start_s[started]  # in request-id (= arrival) order
    assert np.all(np.diff(starts) >= 0)
    assert np.all(np.diff(r.batch[started]) >= 0)


def _queue_and_idle(scenario, r, times):
    """Queue length and idle servers just after all events at each of `times`."""
    admitted = np.sort(r.arrival_s[r.outcome != REJECTED])
    starts = np.sort(r.start_s[r.batch >= 0])
    drop_s = np.sort(r.arrival_s[r.outcome == TIMED_OUT] + (scenario.queue.timeout or 0))
    queued = (np.searchsorted(admitted, times, "right") - np.searchsorted(starts, times, "right")
              - np.searchsorted(drop_s, times, "right"))
    b_start = np.sort(r.batch_start_s)
    b_finish = np.sort(np.nan_to_num(r.batch_finish_s, nan=np.inf))
    busy = np.searchsorted(b_start, times, "right") - np.searchsorted(b_finish, times, "right")
    return queued, scenario.servers.count - busy


@settings_for(100)
@given(scenarios(policies=["dynamic"], timeouts=False))
def test_dynamic_never_idles_beside_a_full_batch_or_an_expired_request(scenario):
    r = simulate(scenario, 0)
    b, delay_s = scenario.batching.max_batch_size, scenario.batching.max_queue_delay
    moments = np.unique(np.concatenate([r.arrival_s, r.batch_start_s,
                                        r.batch_finish_s[~np.isnan(r.batch_finish_s)]]))
    moments = moments[moments + EPS < r.end_s]
    queued, idle = _queue_and_idle(scenario, r, moments + EPS)
    assert not np.any((idle > 0) & (queued >= b))
    # a request whose delay ran out while a server was idle has started by then
    admitted = r.outcome != REJECTED
    due_s = r.arrival_s[admitted] + delay_s
    start_s = np.nan_to_num(r.start_s[admitted], nan=np.inf)
    check = due_s < r.end_s - EPS
    _, idle_at_due = _queue_and_idle(scenario, r, due_s[check] + EPS)
    assert np.all(start_s[check][idle_at_due > 0] <= due_s[check][idle_at_due > 0] + EPS)


def _first_arrival_of_batches(r):
    first = np.full(r.batch_size.size, np.inf)
    started = r.batch >= 0
    np.minimum.at(first, r.batch[started], r.arrival_s[started])
    return first


@settings_for(100)
@given(scenarios(policies=["dynamic", "tfserving"], timeouts=False))
def test_partial_batches_only_after_the_delay(scenario):
    r = simulate(scenario, 0)
    b, delay_s = scenario.batching.max_batch_size, scenario.batching.max_queue_delay
    partial = r.batch_size < b
    first = _first_arrival_of_batches(r)
    assert np.all(r.batch_start_s[partial] >= first[partial] + delay_s - EPS)


@settings_for(100)
@given(scenarios(policies=["window"]))
def test_window_closes_every_batch_within_the_delay_of_its_first_arrival(scenario):
    r = simulate(scenario, 0)
    delay_s = scenario.batching.max_queue_delay
    started = r.batch >= 0
    last = np.full(r.batch_size.size, -np.inf)
    np.maximum.at(last, r.batch[started], r.arrival_s[started])
    first = _first_arrival_of_batches(r)
    span = last - first
    assert np.all(span < delay_s + EPS) if delay_s > 0 else np.all(span <= EPS)


@settings_for(100)
@given(scenarios(policies=["torchserve"], timeouts=False))
def test_torchserve_leaves_within_the_delay_of_taking_its_first_request(scenario):
    r = simulate(scenario, 0)
    b, delay_s = scenario.batching.max_batch_size, scenario.batching.max_queue_delay
    first = _first_arrival_of_batches(r)
    free_since = np.zeros(scenario.servers.count)
    previous_start = 0.0
    for k in range(r.batch_size.size):
        server = r.batch_server[k]
        taken_s = max(previous_start, free_since[server], first[k])
        start_s = r.batch_start_s[k]
        assert start_s <= taken_s + delay_s + EPS
        if r.batch_size[k] < b:
            assert abs(start_s - (taken_s + delay_s)) <= EPS
        previous_start = start_s
        free_since[server] = r.batch_finish_s[k]


@settings_for(40)
@given(st.integers(1, 3), st.sampled_from([0.3, 0.6, 0.9]), st.integers(0, 2**32),
       st.sampled_from(["deterministic", "exponential", "lognormal"]))
def test_adding_a_server_never_increases_any_wait(servers, load, seed, distribution):
    """FIFO, no batching, no timeouts or capacity limit, service times tied to requests
    (drawn in request order): on the same sample path every wait is non-increasing in c."""
    rate = servers * load / 0.002
    def scenario(count):
        return Scenario.model_validate({
            "name": "mono", "seed": seed, "run": {"requests": 2000, "replications": 1},
            "arrival": {"process": "gamma", "rate": rate, "cv": 1.5},
            "batching": {"policy": "none"},
            "service": {"base": 0.002, "distribution": distribution,
                        **({"cv": 0.8} if distribution == "lognormal" else {})},
            "servers": {"count": count}})
    fewer, more = simulate(scenario(servers), 0), simulate(scenario(servers + 1), 0)
    assert np.array_equal(fewer.arrival_s, more.arrival_s)
    started = fewer.batch >= 0
    assert np.all(more.batch[started] >= 0)
    wait_fewer = fewer.start_s[started] - fewer.arrival_s[started]
    wait_more = more.start_s[started] - more.arrival_s[started]
    assert np.all(wait_more <= wait_fewer + EPS)


def _time_average_in_system(record):
    admitted = record.outcome != REJECTED
    enter = record.arrival_s[admitted]
    leave = np.nan_to_num(record.finish_s[admitted], nan=np.inf)
    t0, t1 = record.warmup_s, record.end_s
    return np.clip(np.minimum(leave, t1) - np.maximum(enter, t0), 0, None).sum() / (t1 - t0)


@settings_for(15)
@given(scenarios(timeouts=False).filter(lambda s: s.offered_load <= 0.8))
def test_littles_law_on_random_scenarios(scenario):
    """Time-average number in system = arrival rate x mean time in system, within the
    spread over replications (plus a small allowance for requests crossing the edges)."""
    scenario = scenario.with_overrides({"run.requests": None, "run.duration": 8,
                                        "run.warmup": 1})
    diffs, sizes = [], []
    for k in range(4):
        r = simulate(scenario, k)
        window = (r.arrival_s >= r.warmup_s) & (r.outcome != REJECTED)
        done = window & (r.outcome == COMPLETED)
        lam = window.sum() / (r.end_s - r.warmup_s)
        size = _time_average_in_system(r)
        diffs.append(size - lam * (r.finish_s[done] - r.arrival_s[done]).mean())
        sizes.append(size)
    se = np.std(diffs, ddof=1) / np.sqrt(len(diffs))
    assert abs(np.mean(diffs)) <= 4 * se + 0.03 * np.mean(sizes) + 1e-3
