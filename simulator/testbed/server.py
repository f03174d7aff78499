"""The testbed server: one thread that batches like `dynamic` and runs the model.

Run as a separate process by `simulator.testbed.run` (so the load generator
never holds its GIL). It binds a UDP socket on localhost, prints its port, and
loops:

- when the queue is empty it sleeps in `select` until a request arrives;
- a request is enqueued when the server reads it (stamp `enqueue`); one read
  while the worker was idle is flagged `idle_arrival` (its enqueue stamp is
  its true arrival at the batcher; one read right after a batch arrived at
  some point during that batch);
- the dispatch rule is the `dynamic` policy's: with `max_batch_size` queued,
  the oldest `max_batch_size` go at once; else if the oldest has waited
  `max_queue_delay`, all queued go; else wait for the next arrival or that
  deadline. Batches are only cut when the (single) worker is free;
- a batch runs `MLP.forward` (stamps `start` and `finish`), its answer (the
  ids) goes back in one datagram, then every request that arrived meanwhile
  is read.

A datagram with id -1 stops it; it then saves its stamps (CLOCK_MONOTONIC
nanoseconds, comparable across processes) to the `.npz` file it was given.
"""

from __future__ import annotations

import argparse
import select
import socket
import struct
import sys
import time
from collections import deque

REQUEST = struct.Struct("<q")
STOP_ID = -1
WARMUP_CALLS = 20


class Batcher:
    """The server loop and its stamps."""

    def __init__(self, sock: socket.socket, max_batch_size: int, max_queue_delay_s: float,
                 hidden: int):
        from .model import MLP

        self.sock = sock
        self.max_batch_size = max_batch_size
        self.delay_ns = round(max_queue_delay_s * 1e9)
        self.model = MLP(hidden, max_batch_size)
        self.queue: deque[tuple[int, int]] = deque()  # (request id, enqueue ns)
        self.client = None
        self.stopped = False
        self.req_id: list[int] = []
        self.req_enqueue_ns: list[int] = []
        self.req_idle: list[int] = []
        self.req_batch: list[int] = []
        self.batch_start_ns: list[int] = []
        self.batch_finish_ns: list[int] = []
        self.batch_size: list[int] = []

    def warm_up(self) -> None:
        for size in range(1, self.max_batch_size + 1):
            for _ in range(WARMUP_CALLS if size <= 8 else 3):
                self.model.forward(size)

    def serve(self) -> None:
        while not self.stopped:
            now_ns = time.perf_counter_ns()
            size = self._batch_to_cut(now_ns)
            if size:
                self._run_batch(size)
                self._read_waiting(idle=False)
                continue
            self._wait(now_ns)

    def _batch_to_cut(self, now_ns: int) -> int:
        """The `dynamic` rule for a free worker: batch size to start now, or 0 to wait."""
        queued = len(self.queue)
        if queued >= self.max_batch_size:
            return self.max_batch_size
        if queued and now_ns - self.queue[0][1] >= self.delay_ns:
            return queued
        return 0

    def _wait(self, now_ns: int) -> None:
        timeout_s = None
        if self.queue:
            timeout_s = max(self.queue[0][1] + self.delay_ns - now_ns, 0) / 1e9
        readable, _, _ = select.select([self.sock], [], [], timeout_s)
        if readable:
            self._read_waiting(idle=True)

    def _read_waiting(self, idle: bool) -> None:
        """Enqueue every request already delivered to the socket (never blocks)."""
        sock = self.sock
        sock.setblocking(False)
        try:
            while True:
                try:
                    data, address = sock.recvfrom(64)
                except BlockingIOError:
                    return
                (request_id,) = REQUEST.unpack(data)
                if request_id == STOP_ID:
                    self.stopped = True
                    return
                self.client = address
                self.queue.append((request_id, time.perf_counter_ns()))
                self.req_idle.append(int(idle))
        finally:
            sock.setblocking(True)

    def _run_batch(self, size: int) -> None:
        batch_id = len(self.batch_size)
        members = [self.queue.popleft() for _ in range(size)]
        start_ns = time.perf_counter_ns()
        self.model.forward(size)
        finish_ns = time.perf_counter_ns()
        ids = [rid for rid, _ in members]
        self.sock.sendto(struct.pack(f"<{size}q", *ids), self.client)
        for rid, enqueue_ns in members:
            self.req_id.append(rid)
            self.req_enqueue_ns.append(enqueue_ns)
            self.req_batch.append(batch_id)
        self.batch_start_ns.append(start_ns)
        self.batch_finish_ns.append(finish_ns)
        self.batch_size.append(size)

    def save(self, path: str) -> None:
        import numpy as np

        # req_idle is appended on read, the others on service: align by read order
        served = len(self.req_id)
        order_idle = self.req_idle[:served]
        np.savez(path, req_id=np.array(self.req_id, dtype=np.int64),
                 req_enqueue_ns=np.array(self.req_enqueue_ns, dtype=np.int64),
                 req_idle=np.array(order_idle, dtype=np.int8),
                 req_batch=np.array(self.req_batch, dtype=np.int64),
                 batch_start_ns=np.array(self.batch_start_ns, dtype=np.int64),
                 batch_finish_ns=np.array(self.batch_finish_ns, dtype=np.int64),
                 batch_size=np.array(self.batch_size, dtype=np.int64))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-batch-size", type=int, required=True)
    parser.add_argument("--max-queue-delay-s", type=float, required=True)
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--out", required=True, help=".npz file for the stamps")
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    batcher = Batcher(sock, args.max_batch_size, args.max_queue_delay_s, args.hidden)
    batcher.warm_up()
    print(sock.getsockname()[1], flush=True)
    batcher.serve()
    batcher.save(args.out)


if __name__ == "__main__":
    sys.exit(main())
