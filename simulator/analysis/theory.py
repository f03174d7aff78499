"""Closed-form queueing results: the yardsticks the simulator is checked against.

Owns every textbook formula batchsim uses (tests compare the simulator with
them; later features may quote them). Each function takes rates in requests
per second (`*_rate_rps`) and times in seconds (`*_s`), returns seconds unless
its name says otherwise, and raises ValueError naming the bad values when the
queue is unstable (utilization rho >= 1) or an argument is out of range.

Notation: lambda = arrival rate, mu = service rate of one server (or of one
batch), rho = lambda / (servers x mu), wait = time queued before service,
sojourn = wait + service (the request's latency).

- M/M/1: sojourn ~ Exp(mu - lambda).
- M/G/1 (and M/D/1): Pollaczek-Khinchine mean wait.
- M/M/c: Erlang C (computed through the stable Erlang B recursion).
- M/M^[1,b]/1 bulk service (Bailey 1954; Gross & Harris, Fundamentals of
  Queueing Theory, bulk-service chapter): Triton's dynamic batcher with
  `max_queue_delay: 0`, one server and exponential batch times.
- M/M/1 non-preemptive priority (Cobham 1954), equal service rates.
- Fork-join of homogeneous M/M/1 branches (Nelson & Tantawi 1988).
- Closed loop of N users with exponential think times in front of one
  exponential server (the finite-source M/M/1//N, "machine repairman").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy.optimize import brentq


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _check_stable(arrival_rate_rps: float, capacity_rps: float, what: str) -> float:
    """rho = arrival / capacity, or ValueError when rho >= 1."""
    rho = arrival_rate_rps / capacity_rps
    if rho >= 1:
        raise ValueError(f"{what} is unstable: arrival rate {arrival_rate_rps:g} req/s >= "
                         f"capacity {capacity_rps:g} req/s (rho = {rho:g})")
    return rho


# -- M/M/1 ---------------------------------------------------------------------------
def mm1_mean_sojourn_s(arrival_rate_rps: float, service_rate_rps: float) -> float:
    """M/M/1 mean time in system (wait + service): 1 / (mu - lambda)."""
    _check_positive(arrival_rate_rps=arrival_rate_rps, service_rate_rps=service_rate_rps)
    _check_stable(arrival_rate_rps, service_rate_rps, "M/M/1")
    return 1.0 / (service_rate_rps - arrival_rate_rps)


def mm1_mean_wait_s(arrival_rate_rps: float, service_rate_rps: float) -> float:
    """M/M/1 mean time queued: rho / (mu - lambda)."""
    rho = arrival_rate_rps / service_rate_rps
    return rho * mm1_mean_sojourn_s(arrival_rate_rps, service_rate_rps)


def mm1_sojourn_quantile_s(arrival_rate_rps: float, service_rate_rps: float, q: float) -> float:
    """Quantile `q` (0 <= q < 1) of the M/M/1 sojourn, Exp(mu - lambda): -ln(1-q)/(mu-lambda)."""
    if not 0 <= q < 1:
        raise ValueError(f"quantile q must be in [0, 1), got {q!r}")
    return -math.log1p(-q) * mm1_mean_sojourn_s(arrival_rate_rps, service_rate_rps)


# -- M/G/1 (Pollaczek-Khinchine) -------------------------------------------------------
def mg1_mean_wait_s(arrival_rate_rps: float, service_mean_s: float, service_cv: float) -> float:
    """M/G/1 mean wait (Pollaczek-Khinchine): lambda E[S^2] / (2 (1 - rho)).

    E[S^2] = mean^2 (1 + cv^2); cv 0 is M/D/1, cv 1 gives the M/M/1 wait.
    """
    _check_positive(arrival_rate_rps=arrival_rate_rps, service_mean_s=service_mean_s)
    if not (service_cv >= 0 and math.isfinite(service_cv)):
        raise ValueError(f"service_cv must be >= 0 and finite, got {service_cv!r}")
    rho = _check_stable(arrival_rate_rps, 1.0 / service_mean_s, "M/G/1")
    second_moment_s2 = service_mean_s**2 * (1.0 + service_cv**2)
    return arrival_rate_rps * second_moment_s2 / (2.0 * (1.0 - rho))


def md1_mean_wait_s(arrival_rate_rps: float, service_s: float) -> float:
    """M/D/1 mean wait: rho S / (2 (1 - rho)), half the M/M/1 wait at the same load."""
    return mg1_mean_wait_s(arrival_rate_rps, service_s, 0.0)


# -- M/M/c (Erlang C) ------------------------------------------------------------------
def erlang_b(servers: int, offered_erlangs: float) -> float:
    """Erlang B blocking probability, by the recursion B_k = a B_{k-1} / (k + a B_{k-1}).

    Every step stays in [0, 1], so it is stable for thousands of servers (no
    factorials or powers that overflow).
    """
    if not (isinstance(servers, int) and servers >= 1):
        raise ValueError(f"servers must be an integer >= 1, got {servers!r}")
    _check_positive(offered_erlangs=offered_erlangs)
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_erlangs * blocking / (k + offered_erlangs * blocking)
    return blocking


def erlang_c(servers: int, arrival_rate_rps: float, service_rate_rps: float) -> float:
    """M/M/c probability that an arrival waits: c B / (c - a (1 - B)), a = lambda/mu."""
    _check_positive(arrival_rate_rps=arrival_rate_rps, service_rate_rps=service_rate_rps)
    offered = arrival_rate_rps / service_rate_rps
    blocking = erlang_b(servers, offered)
    _check_stable(arrival_rate_rps, servers * service_rate_rps, f"M/M/{servers}")
    return servers * blocking / (servers - offered * (1.0 - blocking))


def mmc_mean_wait_s(servers: int, arrival_rate_rps: float, service_rate_rps: float) -> float:
    """M/M/c mean wait: C(c, a) / (c mu - lambda)."""
    waits = erlang_c(servers, arrival_rate_rps, service_rate_rps)
    return waits / (servers * service_rate_rps - arrival_rate_rps)


# -- bulk service M/M^[1,b]/1 ---------------------------------------------------------
def bulk_root(arrival_rate_rps: float, batch_rate_rps: float, max_batch: int) -> float:
    """The root r in (0, 1) of mu r^(b+1) - (lambda + mu) r + lambda = 0."""
    _check_positive(arrival_rate_rps=arrival_rate_rps, batch_rate_rps=batch_rate_rps)
    if not (isinstance(max_batch, int) and max_batch >= 1):
        raise ValueError(f"max_batch must be an integer >= 1, got {max_batch!r}")
    _check_stable(arrival_rate_rps, max_batch * batch_rate_rps,
                  f"M/M^[1,{max_batch}]/1 (batch rate {batch_rate_rps:g}/s)")
    lam, mu, b = arrival_rate_rps, batch_rate_rps, max_batch
    if b == 1:
        return lam / mu  # the polynomial factors as (r - 1)(mu r - lambda)

    def poly(r: float) -> float:
        return mu * r ** (b + 1) - (lam + mu) * r + lam

    # poly(0) = lambda > 0; poly(1) = 0 with slope (b - rho_b) mu > 0 when stable,
    # so the polynomial dips below zero just before 1 and the inner root is bracketed.
    upper = 1.0 - 1e-12
    while poly(upper) >= 0:
        upper = 1.0 - (1.0 - upper) * 10.0
        if upper <= 0:
            raise ValueError(f"no root in (0, 1) for lambda={lam!r}, mu={mu!r}, b={b!r}")
    return brentq(poly, 0.0, upper, xtol=1e-15, rtol=1e-15, maxiter=500)


def bulk_mean_queue_length(arrival_rate_rps: float, batch_rate_rps: float,
                           max_batch: int) -> float:
    """M/M^[1,b]/1 mean number waiting Lq = C r / (1 - r)^2, C = 1 / (mu/lambda + 1/(1-r)).

    The server takes up to b waiting requests at once, starts with one when an
    arrival finds it idle, and a batch lasts Exp(mu) whatever its size. Then
    P(idle) = C mu / lambda and P(busy, n waiting) = C r^n (Bailey 1954).
    """
    r = bulk_root(arrival_rate_rps, batch_rate_rps, max_batch)
    c = 1.0 / (batch_rate_rps / arrival_rate_rps + 1.0 / (1.0 - r))
    return c * r / (1.0 - r) ** 2


def bulk_mean_wait_s(arrival_rate_rps: float, batch_rate_rps: float, max_batch: int) -> float:
    """M/M^[1,b]/1 mean wait Wq = Lq / lambda (Little)."""
    return bulk_mean_queue_length(arrival_rate_rps, batch_rate_rps, max_batch) / arrival_rate_rps


# -- priority and fork-join (for later features) ----------------------------------------
def mm1_priority_mean_waits_s(class_rates_rps: Sequence[float],
                              service_rate_rps: float) -> list[float]:
    """Mean wait of each class of a non-preemptive priority M/M/1 (Cobham 1954).

    `class_rates_rps` lists the classes from highest priority to lowest; all
    share the exponential service rate mu. With sigma_k the load of classes
    1..k and W0 = sum lambda_i E[S^2] / 2 = rho / mu (the mean residual work):
    W_k = W0 / ((1 - sigma_{k-1}) (1 - sigma_k)).
    """
    if len(class_rates_rps) < 1:
        raise ValueError("give at least one class rate")
    _check_positive(service_rate_rps=service_rate_rps)
    for k, rate in enumerate(class_rates_rps):
        _check_positive(**{f"class_rates_rps[{k}]": rate})
    total = float(sum(class_rates_rps))
    rho = _check_stable(total, service_rate_rps, "priority M/M/1")
    residual_s = rho / service_rate_rps
    waits, sigma_before = [], 0.0
    for rate in class_rates_rps:
        sigma = sigma_before + rate / service_rate_rps
        waits.append(residual_s / ((1.0 - sigma_before) * (1.0 - sigma)))
        sigma_before = sigma
    return waits


def fork_join2_mean_response_s(arrival_rate_rps: float, service_rate_rps: float) -> float:
    """Exact mean response of a fork-join of 2 homogeneous M/M/1 branches (Nelson-Tantawi).

    Every arrival forks into one task per branch and leaves when both finish:
    R_2 = (12 - rho) / 8 x 1 / (mu - lambda). At rho -> 0 this is 1.5/mu = H_2/mu.
    """
    rho = arrival_rate_rps / service_rate_rps
    return (12.0 - rho) / 8.0 * mm1_mean_sojourn_s(arrival_rate_rps, service_rate_rps)


def harmonic_number(k: int) -> float:
    """H_k = 1 + 1/2 + ... + 1/k."""
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return math.fsum(1.0 / i for i in range(1, k + 1))


def fork_join_low_load_response_s(branches: int, service_rate_rps: float) -> float:
    """Mean response of a k-branch fork-join as the load goes to 0: H_k / mu.

    With no queueing the response is the maximum of k independent Exp(mu)
    service times, whose mean is H_k / mu.
    """
    _check_positive(service_rate_rps=service_rate_rps)
    return harmonic_number(branches) / service_rate_rps


# -- closed loop ------------------------------------------------------------------------
def finite_source_throughput_rps(users: int, think_mean_s: float,
                                 service_rate_rps: float) -> float:
    """Throughput of N users (Exp think, mean Z) sharing one Exp(mu) server: mu (1 - p0).

    p_k, the probability that k users wait or are served, is proportional to
    N! / (N - k)! x (1 / (Z mu))^k (finite-source M/M/1//N, machine repairman).
    The mean response time then follows from the response time law R = N / X - Z.
    """
    if not (isinstance(users, int) and users >= 1):
        raise ValueError(f"users must be an integer >= 1, got {users!r}")
    _check_positive(think_mean_s=think_mean_s, service_rate_rps=service_rate_rps)
    ratio = 1.0 / (think_mean_s * service_rate_rps)
    term, total = 1.0, 1.0
    for k in range(1, users + 1):
        term *= (users - k + 1) * ratio
        total += term
        if term > 1e300:  # p0 underflows: the server is never idle
            return service_rate_rps
    return service_rate_rps * (1.0 - 1.0 / total)
