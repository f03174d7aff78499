"""Stopping cleanly: SIGTERM treated like Ctrl-C, and worker pools that die at once.

Owns the two pieces every long command needs so that an interrupt stops
within a second and leaves nothing half-done: `terminate_as_interrupt()`
turns SIGTERM into KeyboardInterrupt in the main process (so the same
cleanup code runs for both), and `worker_pool()` is a process pool whose
workers ignore SIGINT (the parent decides) and are killed, not awaited,
when the parent is interrupted.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a pool is made: a serial run never needs multiprocessing
    from concurrent.futures import ProcessPoolExecutor


def _raise_interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def worker_pool(max_workers: int) -> Iterator[ProcessPoolExecutor]:
    """A process pool that is torn down at once (workers killed) on any exception.

    Workers ignore SIGINT, so Ctrl-C in a terminal (sent to the whole process
    group) reaches only the parent, which then kills them: no tracebacks from
    workers and no waiting for a replication to finish.
    """
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=max_workers, initializer=_ignore_sigint)
    try:
        yield pool
    except BaseException:
        kill_pool(pool)
        raise
    pool.shutdown(wait=True)


def kill_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel pending work and kill the worker processes now, not after their task (then
    reap them: a killed process ends at once)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=2)
