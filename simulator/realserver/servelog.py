"""Per-request logs of a real server: the CSV format, its writer and its checked reader.

Owns the log that `python -m simulator.testbed.run` writes and that
`batchsim calibrate` / `batchsim validate` read. One row per request, times in
seconds on one clock (any origin):

    request_id, batch_id, batch_size, scheduled_s, sent_s, arrival_s, enqueue_s,
    batch_start_s, batch_finish_s, received_s, idle_arrival

`scheduled_s` is the open-loop arrival the request stands for (latency is
measured from it), `sent_s` when the client sent it, `arrival_s` when it
reached the server (kernel receive stamp), `enqueue_s` when the batcher read it, `batch_start_s` /
`batch_finish_s` its batch's model call, `received_s` when the client read the
answer. `idle_arrival` is 1 when the request reached an idle server (its
enqueue stamp is then its true arrival at the batcher). An unanswered request
has empty batch and answer cells. Lines starting with `#` are comments; a
first comment `# key=value ...` carries the run's settings (rate_rps,
max_batch_size, max_queue_delay_s, ...). Other servers can write this format
too; only `scheduled_s`, `batch_start_s`, `batch_finish_s`, `received_s`,
`batch_size` and `batch_id` are required.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..model.errors import ScenarioError
from ..storage.atomic import write_atomic

COLUMNS = ("request_id", "batch_id", "batch_size", "scheduled_s", "sent_s", "arrival_s",
           "enqueue_s", "batch_start_s", "batch_finish_s", "received_s", "idle_arrival")
REQUIRED = ("scheduled_s", "batch_id", "batch_size", "batch_start_s", "batch_finish_s",
            "received_s")
TIME_COLUMNS = ("scheduled_s", "sent_s", "arrival_s", "enqueue_s", "batch_start_s",
                "batch_finish_s", "received_s")
NUMERIC_SETTINGS = {"rate_rps": float, "max_batch_size": int, "max_queue_delay_s": float}
ORDER_TOLERANCE_S = 1e-6
"""Stamps may disagree by this much (clock read order) before a log is refused."""


@dataclass
class LogBatches:
    """One entry per batch of a log's answered requests, in start order."""

    start_s: np.ndarray
    finish_s: np.ndarray
    size: np.ndarray
    oldest_s: np.ndarray   # earliest arrival stamp among its answered requests
    newest_s: np.ndarray   # latest
    member: np.ndarray     # per answered request (in row order): its batch's index here


@dataclass
class ServeLog:
    """The columns of one log as arrays (NaN / -1 where a request was not answered)."""

    path: str
    columns: dict[str, np.ndarray]
    settings: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def has(self, name: str) -> bool:
        return name in self.columns

    @property
    def answered(self) -> np.ndarray:
        return ~np.isnan(self.columns["received_s"])

    def setting(self, name: str, kind=float):
        """A run setting from the header comment, or None."""
        value = self.settings.get(name)
        if value is None:
            return None
        try:
            number = kind(value)
        except ValueError:
            raise ScenarioError(self.path, f"settings line: {name}", "not a number",
                                value) from None
        if not np.isfinite(number) or number < 0:
            raise ScenarioError(self.path, f"settings line: {name}", "must be a finite "
                                "number >= 0", value)
        return number

    def batches(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start_s, finish_s, size) of every batch, in start order."""
        per_batch = self.per_batch("scheduled_s")
        return per_batch.start_s, per_batch.finish_s, per_batch.size

    def per_batch(self, arrival: str) -> LogBatches:
        """The batches of the answered requests, in start order, with the earliest and
        latest of their requests' `arrival` stamps (a column name)."""
        answered = self.answered
        ids = self.columns["batch_id"][answered]
        batch_ids, first = np.unique(ids, return_index=True)
        index = np.searchsorted(batch_ids, ids)
        rows = np.flatnonzero(answered)[first]
        start = self.columns["batch_start_s"][rows]
        order = np.argsort(start, kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        times = self.columns[arrival][answered]
        oldest = np.full(batch_ids.size, np.inf)
        newest = np.full(batch_ids.size, -np.inf)
        np.minimum.at(oldest, index, times)
        np.maximum.at(newest, index, times)
        return LogBatches(start[order], self.columns["batch_finish_s"][rows][order],
                          self.columns["batch_size"][rows][order].astype(np.int64),
                          oldest[order], newest[order], position[index])

    def arrival_rate_rps(self) -> float:
        scheduled = np.sort(self.columns["scheduled_s"])
        span = scheduled[-1] - scheduled[0]
        if span <= 0:
            raise ScenarioError(self.path, "scheduled_s", "needs two distinct arrival times")
        return (scheduled.size - 1) / span


def write_log(path: Path, columns: dict[str, np.ndarray], settings: dict[str, object]) -> None:
    """Write a log (atomically: a temporary file renamed into place)."""
    out = io.StringIO()
    out.write("# " + " ".join(f"{k}={v}" for k, v in settings.items()) + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    n = len(columns["scheduled_s"])
    for i in range(n):
        writer.writerow([_cell(name, columns[name][i]) for name in COLUMNS])
    write_atomic(path, out.getvalue())


def _cell(name: str, value) -> str:
    if name in TIME_COLUMNS:
        return "" if np.isnan(value) else f"{value:.9f}"
    return "" if value < 0 else str(int(value))


def read_log(path: str | Path) -> ServeLog:
    """Read and check a log; any problem is a ScenarioError naming file, line and column."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(source, None, "log file not found") from None
    except IsADirectoryError:
        raise ScenarioError(source, None, "is a directory, not a log file") from None
    except OSError as exc:
        raise ScenarioError(source, None, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, None, f"not UTF-8 text (byte {exc.start})") from None
    lines = text.splitlines()
    settings = _settings(lines)
    numbered = [(i + 1, line) for i, line in enumerate(lines)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise ScenarioError(source, None, "empty log: no header row")
    header = [c.strip() for c in next(csv.reader([numbered[0][1]]))]
    for name in REQUIRED:
        if name not in header:
            raise ScenarioError(source, name, f"required column is missing (columns: "
                                f"{', '.join(header)})")
    rows = numbered[1:]
    if len(rows) < 2:
        raise ScenarioError(source, None, "a log needs at least two requests")
    columns = _parse_columns(source, header, rows)
    log = ServeLog(source, columns, settings)
    for name, kind in NUMERIC_SETTINGS.items():
        log.setting(name, kind)  # refuses a bad value now, not when first used
    _check(log, rows)
    return log


def _settings(lines: list[str]) -> dict[str, str]:
    for line in lines:
        if line.lstrip().startswith("#"):
            pairs = [p.split("=", 1) for p in line.lstrip("# ").split() if "=" in p]
            return {k: v for k, v in pairs}
        if line.strip():
            break
    return {}


def _parse_columns(source: str, header: list[str], rows: list[tuple[int, str]]
                   ) -> dict[str, np.ndarray]:
    wanted = [name for name in COLUMNS if name in header]
    index = {name: header.index(name) for name in wanted}
    values = {name: np.empty(len(rows)) for name in wanted}
    for r, (line_no, line) in enumerate(rows):
        cells = next(csv.reader([line]))
        for name in wanted:
            cell = cells[index[name]].strip() if index[name] < len(cells) else ""
            values[name][r] = _number(source, line_no, name, cell)
    columns = {}
    for name, array in values.items():
        if name in TIME_COLUMNS:
            columns[name] = array
        else:
            columns[name] = np.where(np.isnan(array), -1, array).astype(np.int64)
    return columns


def _number(source: str, line_no: int, name: str, cell: str) -> float:
    if cell == "":
        if name == "scheduled_s":
            raise ScenarioError(source, f"line {line_no}: {name}", "empty cell")
        return np.nan
    try:
        value = float(cell)
    except ValueError:
        raise ScenarioError(source, f"line {line_no}: {name}", "not a number", cell) from None
    if not np.isfinite(value) or (value < 0 and name not in TIME_COLUMNS):
        raise ScenarioError(source, f"line {line_no}: {name}", "must be a finite number"
                            + ("" if name in TIME_COLUMNS else " >= 0"), cell)
    return value


def _check(log: ServeLog, rows: list[tuple[int, str]]) -> None:
    """Stamps in causal order, answered rows complete, batches consistent."""
    c = log.columns
    answered = log.answered
    for name in ("batch_start_s", "batch_finish_s"):
        _first_bad(log, rows, answered & np.isnan(c[name]), name, "empty in an answered row")
    _first_bad(log, rows, answered & (c["batch_id"] < 0), "batch_id", "empty in an answered "
               "row")
    _first_bad(log, rows, answered & (c["batch_size"] < 1), "batch_size", "must be >= 1 in "
               "an answered row")
    chain = [name for name in ("scheduled_s", "sent_s", "arrival_s", "enqueue_s",
                               "batch_start_s", "batch_finish_s", "received_s") if name in c]
    for early, late in zip(chain, chain[1:], strict=False):
        bad = answered & (c[late] < c[early] - ORDER_TOLERANCE_S)
        _first_bad(log, rows, bad, late, f"earlier than {early}")
    _check_batches(log, rows)


def _check_batches(log: ServeLog, rows) -> None:
    c = log.columns
    answered = np.flatnonzero(log.answered)
    batch = c["batch_id"][answered]
    order = np.argsort(batch, kind="stable")
    batch = batch[order]
    rows_sorted = answered[order]
    first = np.flatnonzero(np.r_[True, batch[1:] != batch[:-1]])
    counts = np.diff(np.r_[first, batch.size])
    for name in ("batch_start_s", "batch_finish_s", "batch_size"):
        values = c[name][rows_sorted]
        differs = np.flatnonzero(values != np.repeat(values[first], counts))
        if differs.size:
            row = int(rows_sorted[differs[0]])
            raise ScenarioError(log.path, f"line {rows[row][0]}: {name}",
                                "differs from the other rows of the same batch_id")
    sizes = c["batch_size"][rows_sorted[first]]
    wrong = np.flatnonzero(sizes < counts)
    if wrong.size:
        row = int(rows_sorted[first[wrong[0]]])
        raise ScenarioError(log.path, f"line {rows[row][0]}: batch_size",
                            f"batch {int(batch[first[wrong[0]]])} has {int(counts[wrong[0]])} "
                            "answered rows, more than its size", int(sizes[wrong[0]]))


def _first_bad(log: ServeLog, rows, mask: np.ndarray, column: str, message: str) -> None:
    bad = np.flatnonzero(mask)
    if bad.size:
        row = int(bad[0])
        raise ScenarioError(log.path, f"line {rows[row][0]}: {column}", message,
                            float(log.columns[column][row]))
