"""Outages of replicas during a run: given ones and random MTBF/MTTR failures.

Owns the SimPy processes that take replicas down and bring them back
(`faults.outages`, `faults.mtbf`/`mttr`). Replicas are numbered globally
(stage by stage, branch by branch, replica by replica); each draws its random
failures from its own stream, so a replica's failure times never depend on
what else happens.
"""

from __future__ import annotations

from .rng import stream


def schedule_outages(env, replicas: list, faults, seed: int, replication: int) -> None:
    for outage in faults.outages:
        env.process(_outage(env, replicas[outage.replica], outage.at, outage.duration))
    if faults.mtbf is not None:
        for index, replica in enumerate(replicas):
            rng = stream(seed, replication, "faults", 2 + index)
            env.process(_random_outages(env, replica, faults.mtbf, faults.mttr, rng))


def _outage(env, replica, at_s: float, duration_s: float):
    yield env.timeout(at_s)
    replica.go_down()
    yield env.timeout(duration_s)
    replica.come_up()


def _random_outages(env, replica, mtbf_s: float, mttr_s: float, rng):
    while True:
        yield env.timeout(rng.exponential(mtbf_s))
        replica.go_down()
        yield env.timeout(rng.exponential(mttr_s))
        replica.come_up()
