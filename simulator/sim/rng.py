"""Random streams: one root seed, independent named streams per replication.

Replication k's stream "arrivals" is `SeedSequence(seed, spawn_key=(k, 0))`,
the same whatever worker runs it and whatever else the scenario changes, so
changing the batching policy never changes the arrival times.
"""

from __future__ import annotations

import numpy as np

STREAM_IDS = {"arrivals": 0, "service": 1, "routing": 2, "faults": 3, "clients": 4,
              # the request path outside the servers (simulator/sim/client_path.py)
              "overhead_before": 20, "overhead_after": 21, "network_loss": 22,
              "network_delay": 23,
              "classes": 5, "wakeup": 24, "stalls": 25}


def stream(seed: int, replication: int, name: str, index: int = 0) -> np.random.Generator:
    """The generator of stream `name` in replication `replication` of root `seed`.

    `index` > 0 gives independent sibling streams (replica `index`'s service times);
    index 0 is the stream the single-replica model uses.
    """
    key = (replication, STREAM_IDS[name]) + ((index,) if index else ())
    sequence = np.random.SeedSequence(seed, spawn_key=key)
    return np.random.Generator(np.random.PCG64(sequence))
