"""Atomic files: a reader sees the old file or the new one; nothing is left behind."""

import pytest

from simulator.storage.atomic import atomic_path, write_atomic


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sweep.csv"
    target.write_text("old\n")
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.csv"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "p00001.json"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["p00001.json"]


def test_temporaries_are_hidden_unique_and_end_as_asked(tmp_path):
    target = tmp_path / "p00001.npz"
    with atomic_path(target, suffix=".npz") as first, atomic_path(target, suffix=".npz") as second:
        assert first != second
        assert first.name.startswith(".p00001.npz.") and first.name.endswith(".tmp.npz")
        first.write_bytes(b"1")
        second.write_bytes(b"2")
    assert target.read_bytes() == b"1"  # the outer block ended last
