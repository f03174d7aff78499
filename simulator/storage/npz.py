"""`.npz` files written fast: members deflated in parallel, or stored when that pays.

Owns `write_npz()`. The file is an ordinary zip archive of `.npy` members (ZIP64
records throughout, as `numpy.savez` writes them), so `numpy.load` reads it like
`numpy.savez_compressed`'s. It is written here rather than with `zipfile` because
zipfile deflates a member in one thread: a member is cut into CHUNK-byte pieces
that worker threads deflate at the same time (zlib lets go of the GIL), each piece
ending on a byte boundary (`Z_SYNC_FLUSH`), so that the pieces joined are one
deflate stream (as pigz does). A member whose first bytes do not shrink below
WORTH_DEFLATING of their size (random float64 times) is stored as it is.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

LEVEL = 1
"""zlib level: 3-4 times faster than numpy's (6); integer and per-batch-repeated arrays
shrink nearly as much."""
CHUNK = 1 << 20
PROBE_BYTES = 1 << 16
WORTH_DEFLATING = 0.5
"""Deflated only if the first PROBE_BYTES shrink below this share (random float64
times shrink only to ~0.75, at ~30 MB/s)."""
STORED, DEFLATED = 0, 8
_ZIP64_VERSION = 45
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_ZIP64_END = struct.Struct("<IQHHIIQQQQ")
_ZIP64_LOCATOR = struct.Struct("<IIQI")
_END = struct.Struct("<IHHHHIIH")
_MAX32 = 0xFFFFFFFF


def write_npz(path: Path, arrays: Iterable[tuple[str, np.ndarray]],
              workers: int | None = None) -> None:
    """Write `(name, array)` pairs to `path` as they come (`arrays` may build each one
    just in time), deflating with up to `workers` threads (default: the CPUs)."""
    workers = workers or min(4, os.cpu_count() or 1)
    stamp = _dos_time(time.localtime())
    entries = []
    with open(path, "wb") as file, ThreadPoolExecutor(workers) as pool:
        for name, array in arrays:
            entries.append(_write_member(file, pool, f"{name}.npy".encode(), stamp,
                                         np.asanyarray(array)))
            del array  # before the next one is built
        _write_directory(file, entries, stamp)


def _npy_bytes(array: np.ndarray) -> tuple[bytes, memoryview]:
    """The `.npy` header and a view of the data (copied only if not C-contiguous)."""
    if array.dtype.hasobject:
        raise ValueError(f"cannot save an object array without pickle (dtype {array.dtype})")
    header = np.lib.format.header_data_from_array_1_0(array)
    out = _Collect()
    np.lib.format.write_array_header_1_0(out, header)
    data = np.ascontiguousarray(array) if not array.flags.c_contiguous \
        and not array.flags.f_contiguous else array
    order = "F" if header["fortran_order"] else "C"
    return out.bytes(), memoryview(data.reshape(-1, order=order).view(np.uint8))


def _write_member(file, pool, name: bytes, stamp, array: np.ndarray) -> tuple:
    header, data = _npy_bytes(array)
    size = len(header) + len(data)
    method = DEFLATED if _worth_deflating(data) else STORED
    if method == DEFLATED:
        pieces = [header] + [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
        parts = [pool.submit(_deflate, p, k == len(pieces) - 1) for k, p in enumerate(pieces)]
    crc = zlib.crc32(data, zlib.crc32(header))  # meanwhile, in this thread
    body = [p.result() for p in parts] if method == DEFLATED else [header, data]
    compressed = sum(len(b) for b in body)
    offset = file.tell()
    extra = struct.pack("<HHQQ", 1, 16, size, compressed)
    file.write(_LOCAL.pack(0x04034B50, _ZIP64_VERSION, 0, method, *stamp, crc, _MAX32,
                           _MAX32, len(name), len(extra)) + name + extra)
    for part in body:
        file.write(part)
    return name, method, crc, compressed, size, offset


def _write_directory(file, entries: list[tuple], stamp) -> None:
    start = file.tell()
    for name, method, crc, compressed, size, offset in entries:
        extra = struct.pack("<HHQQQ", 1, 24, size, compressed, offset)
        file.write(_CENTRAL.pack(0x02014B50, 3 << 8 | _ZIP64_VERSION, _ZIP64_VERSION, 0,
                                 method, *stamp, crc, _MAX32, _MAX32, len(name), len(extra),
                                 0, 0, 0, 0o100644 << 16, _MAX32) + name + extra)
    end = file.tell()
    count = len(entries)
    file.write(_ZIP64_END.pack(0x06064B50, 44, _ZIP64_VERSION, _ZIP64_VERSION, 0, 0,
                               count, count, end - start, start))
    file.write(_ZIP64_LOCATOR.pack(0x07064B50, 0, end, 1))
    file.write(_END.pack(0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                         min(end - start, _MAX32), min(start, _MAX32), 0))


def _worth_deflating(data: memoryview) -> bool:
    head = data[:PROBE_BYTES]
    return len(head) >= 1024 and len(zlib.compress(head, LEVEL)) < WORTH_DEFLATING * len(head)


def _deflate(piece, last: bool) -> bytes:
    """Raw deflate of one piece; all but the last end byte-aligned so pieces join."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return compressor.compress(piece) + compressor.flush(zlib.Z_FINISH if last
                                                         else zlib.Z_SYNC_FLUSH)


def _dos_time(t: time.struct_time) -> tuple[int, int]:
    """(time, date) as zip headers hold them."""
    return (t.tm_hour << 11 | t.tm_min << 5 | t.tm_sec // 2,
            max(t.tm_year - 1980, 0) << 9 | t.tm_mon << 5 | t.tm_mday)


class _Collect:
    """A write-only file that keeps what is written (for the `.npy` header)."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data) -> None:
        self.parts.append(bytes(data))

    def bytes(self) -> bytes:
        return b"".join(self.parts)
