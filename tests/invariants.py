"""Invariants every replication record must satisfy, whatever the scenario.

`assert_conserved(record)` is the request-conservation check that several test
files used to write out by hand: every request is completed, rejected, timed
out, failed or in flight exactly once; a completed request has
arrival <= start <= finish <= end; each batch holds exactly the requests that
point at it (so no request is in two batches); a server serves one batch at a
time; and the sample-path form of Little's law holds on the record.

It looks at two levels when the record has both:
- the servers' view (`arrival_s`, `batch`, `outcome` and the batch arrays):
  one entry per attempt, pipeline-stage task or ensemble-branch task;
- the user's view (`sent_s`, `delivery`, `client_outcome`, ... with a client
  path, stages or an ensemble): one entry per user request, answered by at
  most one server-side entry.

Import it as `from invariants import assert_conserved` (tests/ is on sys.path
through tests/conftest.py under pytest's default import mode).
"""

from __future__ import annotations

import numpy as np

from simulator.sim.records import COMPLETED, FAILED, IN_FLIGHT, REJECTED, TIMED_OUT

CODES = (IN_FLIGHT, COMPLETED, REJECTED, TIMED_OUT, FAILED)
EPS_S = 1e-9
"""Slack for times compared after arithmetic (wake-ups, overheads, retries)."""


def assert_conserved(record) -> None:
    """Assert every conservation invariant of `record` (a `ReplicationRecord`)."""
    _servers_view(record)
    _batches(record)
    _one_batch_at_a_time(record)
    _users_view(record)
    assert_littles_law(record)


def _servers_view(r) -> None:
    n, n_batches = r.arrival_s.size, r.batch_size.size
    for name in ("batch", "outcome"):
        assert getattr(r, name).shape == (n,), f"{name}: one entry per request"
    assert np.isin(r.outcome, CODES).all(), f"unknown outcome codes {np.unique(r.outcome)}"
    assert np.all((r.batch >= -1) & (r.batch < n_batches)), "batch index out of range"
    started = r.batch >= 0
    finished = started & ~np.isnan(r.finish_s)
    # exactly one outcome each: completed <=> in a batch that finished
    assert np.array_equal(r.outcome == COMPLETED, finished), "completed != in a finished batch"
    lost = np.isin(r.outcome, (REJECTED, TIMED_OUT, FAILED))
    assert not started[lost].any(), "a rejected, timed-out or failed request is in a batch"
    # a request that never arrived (a later stage of a lost request) did nothing
    never = np.isnan(r.arrival_s)
    assert not started[never].any() and np.all(r.outcome[never] == IN_FLIGHT)
    arrival, start, finish = r.arrival_s[started], r.start_s[started], r.finish_s[finished]
    assert np.all(arrival <= start + EPS_S), "a request started before it arrived"
    assert np.all(r.start_s[finished] <= finish), "a request finished before it started"
    assert np.all(finish <= r.end_s + EPS_S), "a request finished after the end"
    assert np.all(r.arrival_s[~never] <= r.end_s + EPS_S) or r.has_client_path, \
        "a request arrived after the end"


def _batches(r) -> None:
    sizes, started = r.batch_size, r.batch >= 0
    for name in ("batch_start_s", "batch_finish_s", "batch_charged", "batch_server"):
        assert getattr(r, name).shape == sizes.shape, f"{name}: one entry per batch"
    assert np.all(sizes >= 0), "negative batch size"  # 0: a batch cut by a fault
    members = np.bincount(r.batch[started], minlength=sizes.size)
    assert np.array_equal(members, sizes), "batch sizes do not match their members"
    assert int(sizes.sum()) == int(started.sum())
    assert np.all(r.batch_charged >= sizes), "charged (padded) size below the batch size"
    done = ~np.isnan(r.batch_finish_s)
    assert np.all(r.batch_start_s[done] <= r.batch_finish_s[done]), "batch ends before start"
    assert np.all(r.batch_finish_s[done] <= r.end_s + EPS_S), "batch ends after the end"
    assert np.all(r.batch_start_s <= r.end_s + EPS_S), "batch starts after the end"
    assert np.all(r.batch_server >= 0)


def _one_batch_at_a_time(r) -> None:
    """On each server, batches in start order do not overlap; only the last may be
    unfinished (in service at the end)."""
    if not r.batch_size.size:
        return
    order = np.lexsort((r.batch_start_s, r.batch_server))
    server, start = r.batch_server[order], r.batch_start_s[order]
    finish = r.batch_finish_s[order]
    same = server[1:] == server[:-1]
    assert not np.isnan(finish[:-1][same]).any(), "an unfinished batch is not its server's last"
    assert np.all(start[1:][same] >= finish[:-1][same] - EPS_S), "a server ran two batches at once"


def _users_view(r) -> None:
    counts = r.counts()
    assert counts["arrived"] == sum(v for k, v in counts.items() if k != "arrived"), counts
    if not r.has_client_path:
        assert counts["arrived"] == r.arrival_s.size
        return
    n = r.sent_s.size
    assert counts["arrived"] == n
    for name in ("delivery", "response_delay_s", "client_outcome"):
        assert getattr(r, name).shape == (n,), f"{name}: one entry per user request"
    assert np.isin(r.client_outcome, CODES).all()
    answered = r.delivery >= 0
    assert np.all(r.delivery < r.arrival_s.size), "delivery index out of range"
    assert np.unique(r.delivery[answered]).size == answered.sum(), \
        "one server-side entry answers two user requests"
    done = r.client_outcome == COMPLETED
    assert answered[done].all(), "a completed user request has no answering entry"
    assert np.all(r.outcome[r.delivery[done]] == COMPLETED), "answered by an unfinished entry"
    received = r.received_s
    assert np.all(received[done] <= r.end_s + EPS_S), "an answer received after the end"
    assert np.all(received[done] >= r.sent_s[done] - EPS_S), "an answer before the send"
    assert np.all(r.response_delay_s[answered] >= 0)
    assert np.all(r.sent_s <= r.end_s + EPS_S), "a user request sent after the end"
    if r.attempts is not None:
        assert r.last_sent_s.shape == (n,) and r.attempts.shape == (n,)
        assert np.all(r.attempts >= 1)
        assert np.all(r.last_sent_s >= r.sent_s)
        gave_up = (r.client_outcome == FAILED) & ~answered  # every attempt was lost
        assert np.all(r.last_sent_s[gave_up] + r.network_timeout_s <= r.end_s + EPS_S)


def assert_littles_law(r) -> None:
    """Little's law on the sample path (Little 1961; Stidham 1974), server and user side.

    Over [0, T] with T = end, take the requests whose time in the system is known
    from the record: completed ones (arrival -> finish, or send -> receipt) and
    those in flight at the end (arrival -> T). With A(t) the arrivals and D(t)
    the departures up to t, the time-average number in the system
    L = (1/T) integral of (A(t) - D(t)) dt equals lambda W exactly, where
    lambda = count / T and W = the mean time in the system. L is integrated
    here from the two counting processes, W from the requests, so the check
    fails if a request leaves before it arrives, if N(t) goes negative, or if an
    in-flight request is not still in the system at T.
    """
    if r.end_s <= 0:
        return
    enter = r.arrival_s
    leave = np.where(r.outcome == COMPLETED, r.finish_s, np.nan)
    leave[r.outcome == IN_FLIGHT] = r.end_s
    _little(enter, leave, r.end_s, "servers")
    if r.has_client_path:
        leave = np.where(r.client_outcome == COMPLETED, r.received_s, np.nan)
        leave[r.client_outcome == IN_FLIGHT] = r.end_s
        _little(r.sent_s, leave, r.end_s, "users")


def _little(enter: np.ndarray, leave: np.ndarray, end_s: float, view: str) -> None:
    known = ~np.isnan(enter) & ~np.isnan(leave) & (enter <= end_s)
    enter, leave = enter[known], leave[known]
    if not enter.size:
        return
    times = np.concatenate([enter, leave])
    steps = np.concatenate([np.ones(enter.size), -np.ones(leave.size)])
    order = np.argsort(times, kind="stable")
    times, in_system = times[order], np.cumsum(steps[order])
    assert in_system.min() >= -0.5, f"{view}: more departures than arrivals at some time"
    area = float(np.sum(in_system[:-1] * np.diff(times)))
    lam, wait = enter.size / end_s, float(np.mean(leave - enter))
    assert abs(area / end_s - lam * wait) <= 1e-9 * max(1.0, lam * wait) + EPS_S, \
        f"{view}: Little's law L = lambda W fails on the record ({area / end_s} vs {lam * wait})"
    assert np.all(leave >= enter - EPS_S), f"{view}: a request left before it arrived"
