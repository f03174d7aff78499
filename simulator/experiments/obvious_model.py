"""The yardstick of the speed benchmark: the standard case written the obvious SimPy way.

Owns `simulate_obvious()`: a process per request that puts itself in a `simpy.Store`
and waits for its own completion event, and one batcher holding a `simpy.Resource`
(the server) that cuts Triton `dynamic` batches: at once when `max_batch_size` wait,
else when the oldest has waited `max_queue_delay`, else it waits for the next
request or that deadline (an `a | b` condition), whichever comes first. This is
how a first SimPy model of batched serving is usually written; batchsim's own core
must give the same batches, only faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy


@dataclass
class ObviousResult:
    """Per request: finish time; per batch: size, in the order the batches were cut."""

    finish_s: np.ndarray
    batch_sizes: np.ndarray


def simulate_obvious(arrival_s: np.ndarray, max_batch_size: int, max_queue_delay_s: float,
                     base_s: float, per_item_s: float) -> ObviousResult:
    """Serve `arrival_s` (sorted) with one server and deterministic batch times
    `base_s + per_item_s * size`; run until every request is done."""
    env = simpy.Environment()
    queue = simpy.Store(env)
    server = simpy.Resource(env, capacity=1)
    finish_s = np.full(arrival_s.size, np.nan)
    sizes: list[int] = []
    all_done, unfinished = env.event(), [arrival_s.size]

    def request(index: int):
        done = env.event()
        yield queue.put((index, done))
        yield done
        finish_s[index] = env.now
        unfinished[0] -= 1
        if not unfinished[0]:
            all_done.succeed()

    def source():
        for index, at_s in enumerate(arrival_s.tolist()):
            yield env.timeout(at_s - env.now)
            env.process(request(index))

    def batcher():
        while True:
            with server.request() as free:
                yield free
                batch = [(yield queue.get())]
                deadline_s = arrival_s[batch[0][0]] + max_queue_delay_s
                while len(batch) < max_batch_size:
                    if queue.items:
                        batch.append((yield queue.get()))
                        continue
                    if env.now >= deadline_s:
                        break
                    more, timer = queue.get(), env.timeout(deadline_s - env.now)
                    fired = yield more | timer
                    if more not in fired:
                        more.cancel()
                        break
                    batch.append(more.value)
                sizes.append(len(batch))
                yield env.timeout(base_s + per_item_s * len(batch))
                for _, done in batch:
                    done.succeed()

    env.process(source())
    env.process(batcher())
    env.run(until=all_done)
    return ObviousResult(finish_s, np.array(sizes))
