"""Random streams: one root seed, independent named streams per replication, drawn in chunks.

Replication k's stream "arrivals" is `SeedSequence(seed, spawn_key=(k, 0))`,
the same whatever worker runs it and whatever else the scenario changes, so
changing the batching policy never changes the arrival times. A value needed one
at a time (a service-time factor, a think time, a class) comes from `chunked`:
one numpy call per `CHUNK` values.
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


CHUNK = 4096
"""Values drawn per numpy call by `chunked`."""


def chunked(draw, n: int = CHUNK, last_first: bool = False):
    """A function returning the next value of the chunks `draw(n)`, one chunk at a time.

    Values come in the order drawn; with `last_first`, each chunk from its last value
    (the order the class and straggler draws have always used, kept so that their
    results do not move). The function takes and ignores one optional argument, so it
    can stand where a function of the batch size is expected.
    """
    buffer: list[float] = []
    if last_first:
        def next_value(_ignored=None) -> float:
            if not buffer:
                buffer.extend(draw(n).tolist())
            return buffer.pop()
    else:
        def next_value(_ignored=None) -> float:
            if not buffer:
                buffer.extend(reversed(draw(n).tolist()))
            return buffer.pop()
    return next_value


def delay_chunks(delay, rng: np.random.Generator, n: int = CHUNK):
    """A function returning the next of `delay`'s draws from `rng` (in order)."""
    return chunked(lambda k: delay.sample_s(rng, k), n)
