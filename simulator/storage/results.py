"""Run folders: `results/<name>/<run-id>/` with the resolved scenario, summary and arrays.

Owns the on-disk layout. A folder is written under a hidden temporary name
and renamed when complete, so an interrupted or failed run leaves nothing
half-written behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import shutil
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np

from ..experiments.runner import RunResult, json_safe
from ..model.errors import ScenarioError
from ..model.scenario import Scenario
from ..sim.records import ReplicationRecord
from .npz import write_npz

SUMMARY_FILE, SCENARIO_FILE, ARRAYS_FILE = "summary.json", "scenario.yaml", "requests.npz"


def new_run_id() -> str:
    """Sortable and unique: UTC time plus random hex."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def environment_meta() -> dict:
    """Versions that a result depends on."""
    return {
        "batchsim": _version("batchsim"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "simpy": _version("simpy"),
        "platform": platform.platform(),
    }


@contextlib.contextmanager
def atomic_folder(parent: Path, name: str) -> Iterator[Path]:
    """Yield a temporary folder that becomes `parent/name` only when the block ends
    without an exception (any exception, Ctrl-C included, removes it)."""
    parent.mkdir(parents=True, exist_ok=True)
    final, tmp = parent / name, parent / f".{name}.tmp"
    try:
        tmp.mkdir()
        yield tmp
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_run(result: RunResult, out_root: Path, command: str | None = None) -> Path:
    """Write `result` to `out_root/<name>/<run-id>/` atomically; return the folder."""
    run_id = new_run_id()
    with atomic_folder(Path(out_root) / result.scenario.name, run_id) as tmp:
        (tmp / SCENARIO_FILE).write_text(result.scenario.to_yaml())
        meta = {**environment_meta(), "command": command, "wall_s": result.wall_s,
                "scenario": result.scenario.to_dict(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "run_id": run_id}
        summary = {**json_safe(result.summary), "meta": meta}
        (tmp / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
        save_arrays(tmp / ARRAYS_FILE, result.records)
    return Path(out_root) / result.scenario.name / run_id


def scenario_from_summary(path: Path) -> Scenario:
    """The exact scenario (seed and replications included) a saved summary came from.

    `path` is a `summary.json` or the run folder holding it.
    """
    path = Path(path)
    if path.is_dir():
        path = path / SUMMARY_FILE
    source = str(path)
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(source, None, "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(source, None, f"not a batchsim summary.json ({exc})") from None
    scenario = summary.get("meta", {}).get("scenario") if isinstance(summary, dict) else None
    if not isinstance(scenario, dict):
        raise ScenarioError(source, "meta.scenario", "missing: not a batchsim run summary")
    return Scenario.from_dict(scenario, source=source)


def save_arrays(path: Path, records: list[ReplicationRecord]) -> None:
    """Per-request and per-batch arrays of all replications, with a replication column."""
    write_npz(path, _saved_arrays(records))


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _saved_arrays(records: list[ReplicationRecord]) -> Iterator[tuple[str, np.ndarray]]:
    """The arrays of `requests.npz` in file order, each built only when it is written."""
    def cat(name):
        return _joined([getattr(r, name) for r in records])

    def rep_of(attr):
        return _joined([np.full(getattr(r, attr).size, r.replication) for r in records])

    offsets = np.cumsum([0] + [r.batch_start_s.size for r in records[:-1]])
    yield "replication", rep_of("arrival_s")
    yield "arrival_s", cat("arrival_s")
    yield "batch", _joined([np.where(r.batch >= 0, r.batch + off, -1)
                            for r, off in zip(records, offsets, strict=True)])
    yield "start_s", cat("start_s")
    yield "finish_s", cat("finish_s")
    yield "outcome", cat("outcome")
    yield "server", cat("request_server")
    yield "batch_replication", rep_of("batch_start_s")
    for name in ("batch_start_s", "batch_finish_s", "batch_size", "batch_charged",
                 "batch_server"):
        yield name, cat(name)
    yield "end_s", np.array([r.end_s for r in records])
    yield "warmup_s", np.array([r.warmup_s for r in records])
    yield from _client_arrays(records)
    yield from _topology_arrays(records)


def _topology_arrays(records: list[ReplicationRecord]) -> Iterator[tuple[str, np.ndarray]]:
    """Fleet model only: each request's replica (or branch, stage) and class, each batch's
    replica, and the `adaptive` batch-size cap in force when each batch was cut."""
    names = {"replica": "request_replica", "request_class": "request_class",
             "batch_replica": "batch_replica", "batch_cap": "batch_cap"}
    for name, saved in names.items():
        if records and all(getattr(r, name) is not None for r in records):
            yield saved, _joined([getattr(r, name) for r in records])


def _client_arrays(records: list[ReplicationRecord]) -> Iterator[tuple[str, np.ndarray]]:
    """Per user request (client path only): send, answering attempt, response delay,
    outcome, attempts. `user_delivery` indexes the concatenated request arrays."""
    if not records or not records[0].has_client_path:
        return
    offsets = np.cumsum([0] + [r.arrival_s.size for r in records[:-1]])
    yield "user_replication", _joined([np.full(r.sent_s.size, r.replication) for r in records])
    yield "user_sent_s", _joined([r.sent_s for r in records])
    yield "user_delivery", _joined([np.where(r.delivery >= 0, r.delivery + off, -1)
                                    for r, off in zip(records, offsets, strict=True)])
    yield "user_response_delay_s", _joined([r.response_delay_s for r in records])
    yield "user_outcome", _joined([r.client_outcome for r in records])
    if records[0].attempts is not None:
        yield "user_attempts", _joined([r.attempts for r in records])


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
