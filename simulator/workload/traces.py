"""Reading arrival traces: a CSV column of timestamps (seconds or datetimes).

Owns trace-file parsing and its checks (empty, non-numeric, negative, unsorted
timestamps), each reported as a ValueError that names the file, the column and
the offending line. Returns arrival times in seconds, starting at 0.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

_TIME_UNITS_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def read_trace_s(path: Path, column: str | int = 0, time_unit: str = "s") -> np.ndarray:
    """Arrival times (seconds, first arrival at 0) from column `column` of CSV `path`.

    A column of numbers is read in `time_unit`; a column of datetimes
    (`2023-11-16 18:17:03.9799600`) is read to the nanosecond. The column is a
    header name or a 0-based index.
    """
    header, rows = _read_rows(path)
    index = _column_index(path, header, column)
    cells = _column_cells(path, rows, index)
    if not cells:
        raise ValueError(f"trace {path} has no timestamps in column {column!r}")
    times_s = _to_seconds(path, cells, time_unit)
    _check_sorted(path, times_s)
    return times_s - times_s[0]


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"trace {path} is not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise ValueError(f"trace {path} is binary, not a CSV file")
    rows = [row for row in csv.reader(text.splitlines()) if row]
    if not rows:
        raise ValueError(f"trace {path} is empty")
    return [cell.strip() for cell in rows[0]], rows


def _column_index(path: Path, header: list[str], column: str | int) -> int:
    if isinstance(column, int):
        if not 0 <= column < len(header):
            raise ValueError(f"trace {path} has {len(header)} columns, no column {column}")
        return column
    if column not in header:
        raise ValueError(f"trace {path} has no column {column!r} (columns: {', '.join(header)})")
    return header.index(column)


def _column_cells(path: Path, rows: list[list[str]], index: int) -> list[tuple[int, str]]:
    """(line number, cell) of every data row; the first row is a header if not a number."""
    start = 1 if _is_header(rows[0][index] if index < len(rows[0]) else "") else 0
    cells = []
    for line, row in enumerate(rows[start:], start=start + 1):
        if index >= len(row):
            raise ValueError(f"trace {path} line {line}: no column {index}")
        cells.append((line, row[index].strip()))
    return cells


def _is_header(cell: str) -> bool:
    try:
        float(cell)
        return False
    except ValueError:
        return not _looks_like_datetime(cell)


def _looks_like_datetime(cell: str) -> bool:
    try:
        np.datetime64(cell.replace(" ", "T"), "ns")
        return True
    except ValueError:
        return False


def _to_seconds(path: Path, cells: list[tuple[int, str]], time_unit: str) -> np.ndarray:
    first_line, first = cells[0]
    try:
        float(first)
    except ValueError:
        return _datetimes_to_seconds(path, cells)
    scale = _TIME_UNITS_S[time_unit]
    values = np.empty(len(cells))
    for i, (line, cell) in enumerate(cells):
        try:
            values[i] = float(cell)
        except ValueError:
            raise ValueError(f"trace {path} line {line}: {cell!r} is not a number") from None
        if not np.isfinite(values[i]) or values[i] < 0:
            raise ValueError(f"trace {path} line {line}: timestamp {cell!r} must be finite and >= 0")
    return values * scale


def _datetimes_to_seconds(path: Path, cells: list[tuple[int, str]]) -> np.ndarray:
    stamps = np.empty(len(cells), dtype="datetime64[ns]")
    for i, (line, cell) in enumerate(cells):
        try:
            stamps[i] = np.datetime64(cell.replace(" ", "T"), "ns")
        except ValueError:
            raise ValueError(f"trace {path} line {line}: {cell!r} is not a timestamp") from None
    if np.isnat(stamps).any():
        line = cells[int(np.flatnonzero(np.isnat(stamps))[0])][0]
        raise ValueError(f"trace {path} line {line}: empty timestamp")
    return (stamps - stamps[0]).astype(np.int64) * 1e-9


def _check_sorted(path: Path, times_s: np.ndarray) -> None:
    backwards = np.flatnonzero(np.diff(times_s) < 0)
    if backwards.size:
        i = int(backwards[0]) + 1
        raise ValueError(
            f"trace {path}: timestamps are not sorted (entry {i + 1} goes back in time)"
        )
