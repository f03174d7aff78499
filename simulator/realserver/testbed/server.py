"""The testbed server: one thread that batches like `dynamic` and runs the model.

Run as a separate process by `simulator.realserver.testbed.run` (so the load generator
never holds its GIL). It binds a UDP socket on localhost, prints its port, and
loops:

- when the queue is empty it sleeps in `select` until a request arrives;
- the kernel stamps each request's arrival on the socket (`arrival`,
  SO_TIMESTAMPNS);
- a request is enqueued when the server reads it (stamp `enqueue`); one read
  while the worker was idle is flagged `idle_arrival` (its enqueue stamp is
  its true arrival at the batcher; one read right after a batch arrived at
  some point during that batch);
- the dispatch rule is the `dynamic` policy's: with `max_batch_size` queued,
  the oldest `max_batch_size` go at once; else if the oldest has waited
  `max_queue_delay` since its arrival (kernel stamp), all queued go; else wait for the next arrival or that
  deadline. Batches are only cut when the (single) worker is free;
- a batch runs `MLP.forward` (stamps `start` and `finish`), then every
  request that arrived meanwhile is read, then the answer (the ids) goes back
  in one datagram, last, so that the worker is free again about when the
  client gets the answer (`batchsim calibrate` counts this turnaround, from
  `finish` to the next decision, as part of the server's occupancy).

A datagram with id -1 stops it; it then saves its stamps (CLOCK_MONOTONIC
nanoseconds, comparable across processes) to the `.npz` file it was given.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import struct
import sys
import time
from collections import deque

REQUEST = struct.Struct("<q")
STOP_ID = -1
WARMUP_CALLS = 20
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux value
TIMESPEC = struct.Struct("@qq")
PR_SET_TIMERSLACK = 29


def _realtime_offset_ns() -> int:
    """CLOCK_REALTIME - CLOCK_MONOTONIC, from the tightest of a few bracketed reads."""
    best = None
    for _ in range(50):
        before = time.perf_counter_ns()
        real = time.time_ns()
        after = time.perf_counter_ns()
        if best is None or after - before < best[0]:
            best = (after - before, real - (before + after) // 2)
    return best[1]


def tighten_timer_slack() -> None:
    """Ask Linux for 1 ns timer slack (default 50 us) so sleeps end when asked."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Batcher:
    """The server loop and its stamps."""

    def __init__(self, sock: socket.socket, max_batch_size: int, max_queue_delay_s: float,
                 hidden: int):
        from .model import MLP

        self.sock = sock
        self.max_batch_size = max_batch_size
        self.delay_ns = round(max_queue_delay_s * 1e9)
        self.model = MLP(hidden, max_batch_size)
        self.queue: deque[tuple[int, int, int]] = deque()  # (id, enqueue ns, arrival ns)
        self.realtime_offset_ns = _realtime_offset_ns()
        self.client = None
        self.stopped = False
        self.req_idle: list[int] = []  # per request read, in reading order
        self.batches: list[tuple[int, int, list[tuple[int, int]]]] = []

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
                continue
            self._wait(now_ns)

    def _batch_to_cut(self, now_ns: int) -> int:
        """The `dynamic` rule for a free worker: batch size to start now, or 0 to wait."""
        queued = len(self.queue)
        if queued >= self.max_batch_size:
            return self.max_batch_size
        if queued and now_ns - self.queue[0][2] >= self.delay_ns:
            return queued
        return 0

    def _wait(self, now_ns: int) -> None:
        timeout_s = None
        if self.queue:
            timeout_s = max(self.queue[0][2] + self.delay_ns - now_ns, 0) / 1e9
        readable, _, _ = select.select([self.sock], [], [], timeout_s)
        if readable:
            self._read_waiting(idle=True)

    def _read_waiting(self, idle: bool) -> None:
        """Enqueue every request already delivered to the socket (never blocks)."""
        recvmsg, append, clock = self.sock.recvmsg, self.queue.append, time.perf_counter_ns
        while True:
            try:
                data, ancillary, _, address = recvmsg(64, 64)
            except BlockingIOError:
                return
            (request_id,) = REQUEST.unpack(data)
            if request_id == STOP_ID:
                self.stopped = True
                return
            self.client = address
            now_ns = clock()
            append((request_id, now_ns, self.kernel_ns(ancillary, now_ns)))
            self.req_idle.append(int(idle))

    def _run_batch(self, size: int) -> None:
        queue = self.queue
        members = [queue.popleft() for _ in range(size)]
        start_ns = time.perf_counter_ns()
        self.model.forward(size)
        finish_ns = time.perf_counter_ns()
        self.batches.append((start_ns, finish_ns, members))  # unpacked by save()
        self._read_waiting(idle=False)
        self.sock.sendto(struct.pack(f"<{size}q", *[m[0] for m in members]), self.client)

    def kernel_ns(self, ancillary, fallback_ns: int) -> int:
        """The kernel's receive stamp of a datagram, on the monotonic clock."""
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                seconds, nanoseconds = TIMESPEC.unpack_from(data)
                return min(seconds * 1_000_000_000 + nanoseconds - self.realtime_offset_ns,
                           fallback_ns)
        return fallback_ns

    def save(self, path: str) -> None:
        import numpy as np

        members = [m for _, _, batch in self.batches for m in batch]
        sizes = [len(batch) for _, _, batch in self.batches]
        served = len(members)  # FIFO: the first `served` requests read are those served
        np.savez(path, req_id=np.array([m[0] for m in members], dtype=np.int64),
                 req_enqueue_ns=np.array([m[1] for m in members], dtype=np.int64),
                 req_arrival_ns=np.array([m[2] for m in members], dtype=np.int64),
                 req_idle=np.array(self.req_idle[:served], dtype=np.int8),
                 req_batch=np.repeat(np.arange(len(sizes)), sizes).astype(np.int64),
                 batch_start_ns=np.array([b[0] for b in self.batches], dtype=np.int64),
                 batch_finish_ns=np.array([b[1] for b in self.batches], dtype=np.int64),
                 batch_size=np.array(sizes, dtype=np.int64))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-batch-size", type=int, required=True)
    parser.add_argument("--max-queue-delay-s", type=float, required=True)
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--out", required=True, help=".npz file for the stamps")
    parser.add_argument("--cpu", type=int, help="pin the server to this CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)  # reads never block; the server sleeps in select
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    tighten_timer_slack()
    batcher = Batcher(sock, args.max_batch_size, args.max_queue_delay_s, args.hidden)
    batcher.warm_up()
    print(sock.getsockname()[1], flush=True)
    batcher.serve()
    batcher.save(args.out)


if __name__ == "__main__":
    sys.exit(main())
