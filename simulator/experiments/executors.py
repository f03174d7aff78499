"""Where sweep tasks run: in this process, a local process pool, or a Dask cluster.

Owns parallel execution and stopping it. Every executor calls
`on_done(key, result, error)` in the main process as tasks finish (in any
order); a task that raises is reported with its key and does not stop the
others. Ctrl-C (KeyboardInterrupt) cancels what is queued and kills local
workers at once (`interrupts.worker_pool`), then propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from typing import Any

from .interrupts import worker_pool

OnDone = Callable[[Hashable, Any, BaseException | None], None]


@dataclass(frozen=True)
class Task:
    """`fn(*args)` identified by `key`; `fn` must be importable by name (picklable)."""

    key: Hashable
    fn: Callable
    args: tuple


def run_tasks(tasks: Sequence[Task], on_done: OnDone, workers: int = 1,
              dask_client=None) -> None:
    """Run every task and report each through `on_done`."""
    if dask_client is not None:
        _run_dask(tasks, on_done, dask_client)
    elif workers <= 1 or len(tasks) <= 1:
        _run_here(tasks, on_done)
    else:
        _run_pool(tasks, on_done, workers)


def _run_here(tasks: Sequence[Task], on_done: OnDone) -> None:
    for task in tasks:
        try:
            result = task.fn(*task.args)
        except Exception as exc:  # reported with its point; the others go on
            on_done(task.key, None, exc)
        else:
            on_done(task.key, result, None)


def _run_pool(tasks: Sequence[Task], on_done: OnDone, workers: int) -> None:
    with worker_pool(min(workers, len(tasks))) as pool:
        futures = {pool.submit(t.fn, *t.args): t.key for t in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: str(futures[f])):
                error = future.exception()
                on_done(futures[future], None if error else future.result(), error)


def _run_dask(tasks: Sequence[Task], on_done: OnDone, client) -> None:
    from distributed import as_completed

    futures = {client.submit(t.fn, *t.args, pure=False): t.key for t in tasks}
    try:
        for future in as_completed(list(futures)):
            key = futures[future]
            if future.status == "error":
                on_done(key, None, future.exception())
            else:
                on_done(key, future.result(), None)
    except BaseException:
        client.cancel(list(futures))
        raise


def dask_client(scheduler: str | None, workers: int):
    """A client of the cluster at `scheduler`, or of a new local cluster of `workers`."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("Dask is not installed: pip install 'batchsim[cluster]'") from None
    if scheduler:
        return Client(scheduler)
    return Client(LocalCluster(n_workers=workers, threads_per_worker=1))
