"""The request path outside the servers: service.overhead and network:.

The books balance for user requests and for the servers, a fixed overhead
shifts latency exactly, random overheads have the configured mean and cv,
retries follow the geometric law, a lossless zero-delay network is no network,
and bad values are one-line errors naming the file and the key.
"""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from test_invariants import scenarios, settings_for

from simulator import run
from simulator.cli import cli
from simulator.model.delays import DelayConfig
from simulator.model.scenario import Scenario
from simulator.sim import simulate
from simulator.sim.records import COMPLETED, FAILED, IN_FLIGHT

from conftest import scenario_dict
from invariants import assert_conserved

NETWORK = {"delay": {"mean": "5ms", "distribution": "lognormal", "cv": 1.0},
           "failure_probability": 0.2, "timeout": "50ms", "max_retries": 2, "backoff": "10ms"}


def with_path(scenario: Scenario, overhead=None, network=None) -> Scenario:
    data = scenario.to_dict()
    if overhead is not None:
        data["service"]["overhead"] = overhead
    if network is not None:
        data["network"] = network
    return Scenario.model_validate(data)


def geometric_attempts(p: float, retries: int) -> float:
    """E[attempts] when each is lost with probability p and at most 1 + retries are sent."""
    return (1 - p ** (retries + 1)) / (1 - p)


# -- the books ------------------------------------------------------------------------
@settings_for(60)
@given(scenarios(), st.sampled_from(["request", "response", "both"]),
       st.sampled_from([0.0, 0.1, 0.5]), st.booleans())
def test_every_user_request_is_in_the_books(scenario, lost_on, p, overheads):
    overhead = {"before": {"mean": "1ms", "distribution": "exponential"},
                "after": "0.5ms"} if overheads else None
    network = {**NETWORK, "failure_probability": p, "lost_on": lost_on}
    r = simulate(with_path(scenario, overhead, network), 0)
    assert_conserved(r)  # each user request once, at most one attempt answers it, ...
    # each attempt that reaches the queue belongs to one request
    assert r.arrival_s.size <= r.attempts.sum()
    assert np.all(r.attempts <= 1 + NETWORK["max_retries"])
    done = r.client_outcome == COMPLETED
    assert np.all(r.received_s[done] - r.sent_s[done] >= r.finish_s[r.delivery[done]]
                  - r.arrival_s[r.delivery[done]] - 1e-12)
    if p == 0:
        assert r.counts()["failed"] == 0 and np.all(r.attempts == 1)


def test_overheads_alone_keep_the_books_and_the_plain_keys():
    scenario = Scenario.model_validate(scenario_dict())
    r = simulate(with_path(scenario, {"before": {"mean": "3ms", "distribution": "exponential"}}),
                 0)
    assert_conserved(r)
    counts = r.counts()
    assert "failed" not in counts and r.attempts is None
    assert counts["rejected"] == counts["timed_out"] == 0  # completed or in flight
    assert np.array_equal(np.sort(r.delivery), np.arange(r.sent_s.size))


# -- exact shifts -----------------------------------------------------------------------
@pytest.mark.parametrize("before_ms, after_ms", [(0.15, 0.0), (0.0, 0.05), (0.15, 0.05)])
def test_fixed_overhead_shifts_latency_exactly(before_ms, after_ms):
    data = scenario_dict(run={"requests": 20_000, "replications": 2})
    plain = Scenario.model_validate(data)
    shifted = with_path(plain, {"before": f"{before_ms}ms", "after": f"{after_ms}ms"})
    a, b = run(plain).summary, run(shifted).summary
    shift_s = (before_ms + after_ms) / 1e3
    for key in ("mean", "p50", "p90", "p99", "max"):
        assert b["latency"][key] == pytest.approx(a["latency"][key] + shift_s, abs=1e-9)
        assert b["wait"][key] == pytest.approx(a["wait"][key], abs=1e-9)  # server clock
    assert b["requests"] == a["requests"]


def test_after_overhead_leaves_the_servers_untouched():
    plain = Scenario.model_validate(scenario_dict())
    after = with_path(plain, {"after": {"mean": "1ms", "distribution": "gamma", "cv": 2.0}})
    a, b = simulate(plain, 0), simulate(after, 0)
    for name in ("arrival_s", "batch", "batch_start_s", "batch_finish_s", "batch_size"):
        assert np.array_equal(getattr(a, name), getattr(b, name))


def test_the_network_leaves_the_arrival_stream_alone():
    plain = Scenario.model_validate(scenario_dict())
    lossy = with_path(plain, {"before": {"mean": "1ms", "distribution": "exponential"}},
                      NETWORK)
    assert np.array_equal(simulate(lossy, 0).sent_s, simulate(plain, 0).arrival_s)


def test_lossless_zero_delay_network_is_no_network():
    plain = Scenario.model_validate(scenario_dict())
    net = with_path(plain, network={"failure_probability": 0.0})
    a, b = run(plain).summary, run(net).summary
    assert a["latency"] == b["latency"] and a["wait"] == b["wait"]
    assert a["throughput"] == b["throughput"]
    assert {k: v for k, v in b["requests"].items() if k != "failed"} == a["requests"]
    assert b["requests"]["failed"] == 0 and b["network"]["attempts_per_request"] == 1


# -- distributions and retries against theory ---------------------------------------
@pytest.mark.parametrize("distribution, cv", [("exponential", 1.0), ("gamma", 0.5),
                                              ("lognormal", 0.5), ("lognormal", 2.0)])
def test_delay_distribution_has_its_mean_and_cv(distribution, cv):
    delay = DelayConfig(mean=2e-3, distribution=distribution, cv=cv)
    means, cvs = [], []
    for seed in range(8):
        x = delay.sample_s(np.random.default_rng(seed), 50_000)
        means.append(x.mean())
        cvs.append(x.std() / x.mean())
    for values, truth in ((means, 2e-3), (cvs, cv)):
        se = np.std(values, ddof=1) / math.sqrt(len(values))
        assert abs(np.mean(values) - truth) < 4 * se + 1e-12, (values, truth)


def test_after_overhead_is_recovered_from_the_run():
    """The answer delays of a run have the configured mean and cv (t interval over reps)."""
    plain = Scenario.model_validate(scenario_dict(run={"duration": 20.0, "replications": 6}))
    after = with_path(plain, {"after": {"mean": "1ms", "distribution": "gamma", "cv": 0.5}})
    records = run(after).records
    means = [r.response_delay_s.mean() for r in records]
    cvs = [r.response_delay_s.std() / r.response_delay_s.mean() for r in records]
    for values, truth in ((means, 1e-3), (cvs, 0.5)):
        se = np.std(values, ddof=1) / math.sqrt(len(values))
        assert abs(np.mean(values) - truth) < 4 * se


@pytest.mark.parametrize("p, retries, lost_on", [(0.3, 3, "both"), (0.5, 1, "request"),
                                                 (0.2, 2, "response")])
def test_retries_follow_the_geometric_law(p, retries, lost_on):
    network = {**NETWORK, "failure_probability": p, "max_retries": retries,
               "lost_on": lost_on, "timeout": "20ms", "backoff": "5ms"}
    scenario = with_path(Scenario.model_validate(scenario_dict(
        run={"duration": 20.0, "warmup": 0, "replications": 4})), network=network)
    records = run(scenario).records
    for r in records:  # a duration run: late retries leave requests in flight, in the books
        assert_conserved(r)
    attempts = np.concatenate([r.attempts for r in records])
    expected = geometric_attempts(p, retries)
    se = attempts.std() / math.sqrt(attempts.size)
    assert abs(attempts.mean() - expected) < 4 * se
    failed = np.concatenate([r.client_outcome for r in records]) == FAILED
    undecided = np.concatenate([r.client_outcome for r in records]) == IN_FLIGHT
    q = p ** (retries + 1)
    assert abs(failed.mean() - q) < 4 * math.sqrt(q * (1 - q) / failed.size) + undecided.mean()
    # the servers see the attempts that were not lost on the way in
    at_servers = sum(r.arrival_s.size for r in records) / attempts.size
    share_in = {"request": 1 - p, "response": 1.0, "both": 1 - p / 2}[lost_on]
    reached = expected * share_in
    assert abs(at_servers - reached) < 4 * math.sqrt(attempts.var() / attempts.size) * share_in


@pytest.mark.parametrize("multiplier", [1.0, 2.0])
def test_retries_arrive_after_timeout_and_backoff(multiplier):
    network = {"failure_probability": 0.5, "timeout": "30ms", "backoff": "7ms",
               "backoff_multiplier": multiplier, "max_retries": 4, "lost_on": "request"}
    r = simulate(with_path(Scenario.model_validate(scenario_dict()), network=network), 0)
    retries = r.attempts - 1
    backoffs_s = 0.007 * np.array([sum(multiplier**j for j in range(k)) for k in retries])
    assert np.allclose(r.last_sent_s - r.sent_s, retries * 0.030 + backoffs_s)
    assert retries.max() == 4


# -- schema and bad input -------------------------------------------------------------
def test_schema_lists_the_new_keys():
    schema = json.loads(CliRunner().invoke(cli, ["schema"]).stdout)
    text = json.dumps(schema)
    for key in ("overhead", "before", "after", "failure_probability", "max_retries",
                "backoff", "backoff_multiplier", "lost_on"):
        assert f'"{key}"' in text, key
    assert "network" in schema["properties"]


@pytest.mark.parametrize("patch, fragment", [
    ({"network": {"failure_probability": 1.5, "timeout": "1s"}},
     "network.failure_probability: input should be less than 1"),
    ({"network": {"failure_probability": 0.1}}, "network.timeout: required"),
    ({"network": {"lost_on": "sideways"}}, "network.lost_on"),
    ({"network": {"delay": {"mean": "1ms", "distribution": "weibull"}}},
     "network.delay.distribution"),
    ({"network": {"max_retries": -1}}, "network.max_retries"),
    ({"network": {"delay": "5 parsecs"}}, "network.delay"),
    ({"service": {"base": "2ms", "overhead": {"before": "-5ms"}}},
     "service.overhead.before: duration must not be negative"),
    ({"service": {"base": "2ms", "overhead": {"after": {"mean": "1ms", "cv": 0.5}}}},
     "service.overhead.after: a deterministic delay has no noise"),
    ({"service": {"base": "2ms", "overhead": {"after": {"mean": "1ms", "bogus": 1}}}},
     "service.overhead.after.bogus: unknown key"),
    ({"service": {"base": "2ms", "overhead": {"befor": "1ms"}}},
     "did you mean 'before'"),
])
def test_bad_values_exit_2_naming_file_and_key(tmp_path, write_yaml, patch, fragment):
    path = write_yaml(scenario_dict(**patch))
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), lines
    assert fragment in lines[0], lines[0]
    assert not out.exists() or not any(out.rglob("*"))


def test_results_folder_holds_the_client_arrays(tmp_path, write_yaml):
    data = scenario_dict(network={**NETWORK}, run={"duration": 3.0, "replications": 2})
    result = CliRunner().invoke(cli, ["run", str(write_yaml(data)), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    arrays = np.load(next(tmp_path.rglob("requests.npz")))
    summary = json.loads(next(tmp_path.rglob("summary.json")).read_text())
    assert arrays["user_sent_s"].size == summary["requests"]["arrived"]
    assert arrays["arrival_s"].size <= arrays["user_attempts"].sum()
    answered = arrays["user_delivery"] >= 0
    done = arrays["user_outcome"] == COMPLETED
    assert np.all(answered[done])
    delivery = arrays["user_delivery"][answered]
    assert np.array_equal(arrays["replication"][delivery], arrays["user_replication"][answered])
    assert summary["network"]["attempts"] >= summary["network"]["requests"]


junk = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6),
                 st.floats(allow_nan=True, allow_infinity=True),
                 st.sampled_from(["", "5ms", "-1ms", "1e300s", "nan", "both", "weibull",
                                  "lognormal", "exponential", "1h"]),
                 st.dictionaries(st.sampled_from(["mean", "cv", "distribution", "x"]),
                                 st.one_of(st.floats(-1, 1e6), st.sampled_from(
                                     ["1ms", "gamma", "lognormal", "deterministic"])),
                                 max_size=3))
NETWORK_KEYS = ["delay", "failure_probability", "lost_on", "timeout", "max_retries", "backoff",
                "backoff_multiplier"]


@settings_for(150)
@given(st.dictionaries(st.sampled_from(NETWORK_KEYS + ["bogus"]), junk, max_size=4),
       st.dictionaries(st.sampled_from(["before", "after", "bogus"]), junk, max_size=2))
def test_malformed_paths_are_one_line_errors_or_run(tmp_path_factory, network, overhead):
    data = scenario_dict(network=network, run={"duration": 0.5, "replications": 1})
    data["service"]["overhead"] = overhead
    path = tmp_path_factory.mktemp("path") / "s.yaml"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(cli, ["run", str(path), "--no-save", "--format", "json"])
    if result.exit_code == 0:
        counts = json.loads(result.stdout)["requests"]
        assert counts["arrived"] == sum(v for k, v in counts.items() if k != "arrived")
        return
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), lines


def test_same_result_whatever_the_worker_count():
    scenario = with_path(Scenario.model_validate(scenario_dict(run={"duration": 5.0,
                                                                    "replications": 2})),
                         {"before": {"mean": "1ms", "distribution": "gamma", "cv": 2.0}},
                         NETWORK)
    a, b = run(scenario, workers=1).summary, run(scenario, workers=2).summary
    assert a["latency"] == b["latency"] and a["network"] == b["network"]
    assert a["requests"] == b["requests"]


def test_overheads_with_classes_shift_every_class_exactly():
    """Deterministic overheads add exactly before + after to every request of every
    class (the classes ride on the attempts)."""
    base = {"name": "c", "seed": 3, "run": {"duration": 5.0, "replications": 1},
            "arrival": {"process": "poisson", "rate": 300},
            "classes": [{"name": "a", "share": 0.3, "priority": 1}, {"name": "b", "share": 0.7}],
            "queue": {"discipline": "priority"},
            "service": {"base": "2ms", "per_item": "0.5ms"}}
    with_path = {**base, "service": {**base["service"],
                                     "overhead": {"before": "1ms", "after": "3ms"}}}
    plain = simulate(Scenario.from_dict(base), 0)
    shifted = simulate(Scenario.from_dict(with_path), 0)
    assert_conserved(shifted)
    done = plain.outcome == COMPLETED
    took = shifted.received_s - shifted.sent_s
    assert np.allclose(took[done], (plain.finish_s - plain.arrival_s)[done] + 0.004)
    assert np.array_equal(shifted.request_class, plain.request_class)


def test_overheads_in_front_of_replicas_shift_latency_exactly():
    """Deterministic overheads add exactly before + after to every request behind a
    router, and the books still balance with a lossy network."""
    base = {"name": "r", "seed": 4, "run": {"duration": "20s", "warmup": "1s"},
            "arrival": {"process": "constant", "rate": 200},
            "batching": {"policy": "none"},
            "service": {"base": "3ms", "per_item": 0, "distribution": "deterministic"},
            "replicas": {"count": 3, "router": "round_robin"}}
    plain = simulate(Scenario.model_validate(base))
    shifted = simulate(Scenario.model_validate(base).with_overrides(
        {"service.overhead": {"before": "1ms", "after": "2ms"}}))
    plain_s = plain.finish_s - plain.arrival_s
    shifted_s = shifted.received_s - shifted.sent_s
    done = ~np.isnan(plain_s[:-5]) & ~np.isnan(shifted_s[:-5])
    assert done.sum() > 3000
    assert np.allclose(shifted_s[:-5][done] - plain_s[:-5][done], 0.003, atol=1e-9)
    lossy = simulate(Scenario.model_validate(base).with_overrides(
        {"network": {"delay": "2ms", "failure_probability": 0.05, "timeout": "50ms"}}))
    assert_conserved(lossy)
    outcome = lossy.client_outcome
    assert set(np.unique(outcome)) <= {IN_FLIGHT, COMPLETED, FAILED}  # nothing else here
    expected = (1 - 0.05**4) / (1 - 0.05)  # attempts per request, at most 4
    se = math.sqrt(0.05) / (1 - 0.05) / math.sqrt(outcome.size)
    assert abs(lossy.attempts.mean() - expected) < 4 * se
