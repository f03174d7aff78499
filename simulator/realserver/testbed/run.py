"""`python -m simulator.testbed.run`: measure the testbed server under Poisson load.

    python -m simulator.testbed.run --rate 200 --max-batch-size 8 \\
        --max-queue-delay 0 --duration 10s --out log.csv

Starts `simulator.realserver.testbed.server` as its own process (BLAS pinned to one
thread), waits for its model to warm up, drives it with `loadgen` for
`--duration`, stops it and writes the per-request log (`simulator.realserver.servelog`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ...model.units import parse_duration_s
from ..servelog import write_log
from . import loadgen
from .model import BLAS_THREAD_VARIABLES, DEFAULT_HIDDEN

START_MARGIN_S = 0.05
SERVER_START_TIMEOUT_S = 60.0
SERVER_CPU, CLIENT_CPU = 1, 0


def run_testbed(rate_rps: float, max_batch_size: int, max_queue_delay_s: float,
                duration_s: float, out: Path, seed: int = 1, hidden: int = DEFAULT_HIDDEN,
                pin_cpus: bool = False) -> Path:
    """One measured run; returns the path of the log written.

    `pin_cpus` puts the server on CPU 1 and this process on CPU 0 (less
    interference on a quiet machine; worse on a busy one, where a pinned
    process cannot escape another's load).
    """
    with tempfile.TemporaryDirectory(prefix="batchsim-testbed-") as tmp:
        stamps_path = Path(tmp) / "server.npz"
        server = _start_server(max_batch_size, max_queue_delay_s, hidden, stamps_path,
                               pin_cpus)
        try:
            port = _read_port(server)
            if pin_cpus:
                os.sched_setaffinity(0, {CLIENT_CPU})
            start_ns = time.perf_counter_ns() + int(START_MARGIN_S * 1e9)
            schedule = loadgen.poisson_schedule_ns(rate_rps, duration_s, seed, start_ns)
            client = loadgen.drive(port, schedule)
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        if server.returncode != 0:
            raise RuntimeError(f"testbed server failed: {server.stderr.read()}")
        stamps = dict(np.load(stamps_path))
    columns = merge_stamps(client, stamps, start_ns)
    settings = {"source": "batchsim-testbed", "rate_rps": f"{rate_rps:g}",
                "max_batch_size": max_batch_size, "max_queue_delay_s": f"{max_queue_delay_s:g}",
                "duration_s": f"{duration_s:g}", "seed": seed, "hidden": hidden,
                "pinned": int(pin_cpus)}
    write_log(out, columns, settings)
    return out


def _start_server(max_batch_size, max_queue_delay_s, hidden, stamps_path, pin_cpus
                  ) -> subprocess.Popen:
    env = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}
    command = [sys.executable, "-m", "simulator.realserver.testbed.server",
               "--max-batch-size", str(max_batch_size),
               "--max-queue-delay-s", repr(max_queue_delay_s), "--hidden", str(hidden),
               "--out", str(stamps_path)]
    if pin_cpus:
        command += ["--cpu", str(SERVER_CPU)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _read_port(server: subprocess.Popen) -> int:
    line = server.stdout.readline()
    if not line.strip():
        server.wait(timeout=SERVER_START_TIMEOUT_S)
        raise RuntimeError(f"testbed server did not start: {server.stderr.read()}")
    return int(line)


def merge_stamps(client: loadgen.ClientStamps, server: dict, origin_ns: int
                 ) -> dict[str, np.ndarray]:
    """Per-request columns (seconds from `origin_ns`) from the client's and server's stamps."""
    n = client.scheduled_ns.size

    def seconds(ns: np.ndarray) -> np.ndarray:
        return (ns - origin_ns) / 1e9

    columns = {name: np.full(n, np.nan) for name in
               ("arrival_s", "enqueue_s", "batch_start_s", "batch_finish_s", "received_s")}
    columns.update(request_id=np.arange(n), batch_id=np.full(n, -1),
                   batch_size=np.full(n, -1), idle_arrival=np.full(n, -1),
                   scheduled_s=seconds(client.scheduled_ns), sent_s=seconds(client.sent_ns))
    rid, batch = server["req_id"], server["req_batch"]
    answered = client.received_ns[rid] >= 0
    rid, batch = rid[answered], batch[answered]
    columns["enqueue_s"][rid] = seconds(server["req_enqueue_ns"][answered])
    columns["arrival_s"][rid] = seconds(server["req_arrival_ns"][answered])
    columns["idle_arrival"][rid] = server["req_idle"][answered]
    columns["batch_id"][rid] = batch
    columns["batch_size"][rid] = server["batch_size"][batch]
    columns["batch_start_s"][rid] = seconds(server["batch_start_ns"][batch])
    columns["batch_finish_s"][rid] = seconds(server["batch_finish_ns"][batch])
    columns["received_s"][rid] = seconds(client.received_ns[rid])
    return columns


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulator.testbed.run",
        description="Measure the testbed dynamic-batching server under open-loop Poisson load.")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--max-queue-delay", default="0", help="e.g. 0, 2ms")
    parser.add_argument("--duration", default="10s", help="e.g. 10s")
    parser.add_argument("--seed", type=int, default=1, help="seed of the arrival schedule")
    parser.add_argument("--hidden", type=int, default=DEFAULT_HIDDEN,
                        help="hidden width of the MLP")
    parser.add_argument("--pin-cpus", action="store_true",
                        help="server on CPU 1, load generator on CPU 0 (for quiet machines)")
    parser.add_argument("--out", type=Path, required=True, help="log CSV to write")
    args = parser.parse_args(argv)
    try:
        delay_s = parse_duration_s(args.max_queue_delay)
        duration_s = parse_duration_s(args.duration)
    except ValueError as exc:
        parser.error(str(exc))
    if args.rate <= 0 or args.max_batch_size < 1 or duration_s <= 0 or args.hidden < 1:
        parser.error("--rate, --max-batch-size, --duration and --hidden must be positive")
    if delay_s < 0:
        parser.error("--max-queue-delay must be >= 0")
    if not args.out.parent.is_dir():
        parser.error(f"--out: folder {args.out.parent} does not exist")
    path = run_testbed(args.rate, args.max_batch_size, delay_s, duration_s, args.out,
                       args.seed, args.hidden, args.pin_cpus)
    print(f"log: {path}")


if __name__ == "__main__":
    main()
