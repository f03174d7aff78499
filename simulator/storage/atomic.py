"""Atomic files: written under a unique hidden name beside the target, then renamed.

Owns the one way batchsim writes a file that something may read meanwhile (a
sweep's point summaries and CSV, a calibrated scenario, a profile, a log): a
reader sees the old file or the new one, never half of one; a failed or
interrupted write leaves nothing behind; two processes writing the same file
never share a temporary name. Whole run folders: `results.atomic_folder`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; it replaces `path` when the block
    ends without an exception and is removed in every case. `suffix` ends the temporary
    name, for writers that insist on one (`np.savez` adds `.npz` otherwise)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
