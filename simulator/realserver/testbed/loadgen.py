"""Open-loop Poisson load generator: sends each request at its scheduled time.

One thread (no GIL contention with a second client thread): it sleeps in
`select` on its socket until the next scheduled send, reading answers as they
come. A request's `scheduled` time is the Poisson arrival it stands for, fixed
before the run; `sent` is when it actually left (later when the client was
late, which the log keeps so the lateness is measured, not hidden). Answers
are stamped `received` when read. Times are CLOCK_MONOTONIC nanoseconds.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from dataclasses import dataclass

import numpy as np

REQUEST = struct.Struct("<q")
STOP_ID = -1
DRAIN_TIMEOUT_S = 2.0


@dataclass
class ClientStamps:
    scheduled_ns: np.ndarray
    sent_ns: np.ndarray
    received_ns: np.ndarray  # -1 when no answer came


def poisson_schedule_ns(rate_rps: float, duration_s: float, seed: int, start_ns: int
                        ) -> np.ndarray:
    """Arrival times of a Poisson process of `rate_rps` over `duration_s`, from `start_ns`."""
    rng = np.random.default_rng(seed)
    expected = int(rate_rps * duration_s * 1.2 + 100)
    times_s = np.cumsum(rng.exponential(1.0 / rate_rps, expected))
    times_s = times_s[times_s < duration_s]
    return start_ns + np.round(times_s * 1e9).astype(np.int64)


def drive(port: int, scheduled_ns: np.ndarray) -> ClientStamps:
    """Send every request at its scheduled time and collect the answers."""
    from .server import tighten_timer_slack

    tighten_timer_slack()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.connect(("127.0.0.1", port))
    n = scheduled_ns.size
    schedule = scheduled_ns.tolist()
    sent = [0] * n
    received = [-1] * n
    pending = n
    next_i = 0
    give_up_ns = None
    while pending:
        now = time.perf_counter_ns()
        while next_i < n and schedule[next_i] <= now:
            sent[next_i] = now = time.perf_counter_ns()
            sock.send(REQUEST.pack(next_i))
            next_i += 1
        if next_i < n:
            timeout_s = (schedule[next_i] - now) / 1e9
        else:
            give_up_ns = give_up_ns or now + int(DRAIN_TIMEOUT_S * 1e9)
            if now >= give_up_ns:
                break
            timeout_s = (give_up_ns - now) / 1e9
        if select.select([sock], [], [], timeout_s)[0]:
            pending -= _read_answers(sock, received)
    sock.send(REQUEST.pack(STOP_ID))
    sock.close()
    return ClientStamps(scheduled_ns, np.array(sent, dtype=np.int64),
                        np.array(received, dtype=np.int64))


def _read_answers(sock: socket.socket, received: list[int]) -> int:
    """Stamp every answer already delivered; returns how many requests were answered."""
    count = 0
    sock.setblocking(False)
    try:
        while True:
            try:
                data = sock.recv(8 * 4096)
            except BlockingIOError:
                return count
            now = time.perf_counter_ns()
            for (request_id,) in REQUEST.iter_unpack(data):
                received[request_id] = now
                count += 1
    finally:
        sock.setblocking(True)
