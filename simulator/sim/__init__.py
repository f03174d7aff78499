"""The simulation: one core for every scenario. Sources and closed-loop users, pools of
replicas behind routers (each a queue, a batching policy and servers), stage and
ensemble joins, the client path; per-request records and named random streams."""


def simulate(scenario, replication: int = 0):
    """Run replication `replication` of `scenario`; returns its `ReplicationRecord`."""
    from .core import simulate as run_core

    return run_core(scenario, replication)


__all__ = ["simulate"]
