"""Run folders: requests.npz reads back exactly what the records held."""

import zipfile

import numpy as np
import pytest

from simulator.sim import simulate
from simulator.storage import npz
from simulator.storage.npz import write_npz
from simulator.storage.results import save_arrays

from conftest import make_scenario


def test_write_npz_reads_back_every_kind_of_array(tmp_path, monkeypatch):
    monkeypatch.setattr(npz, "CHUNK", 4096)  # members deflated in many pieces
    rng = np.random.default_rng(5)
    arrays = {
        "random_floats": rng.random(50_000),           # incompressible: stored
        "small_ints": rng.integers(0, 3, 50_000),      # compressible: deflated in pieces
        "flags": rng.random(5000) < 0.5,
        "bytes": np.zeros(3000, dtype=np.int8),
        "empty": np.array([], dtype=np.float64),
        "scalar": np.array(2.5),
        "strided": np.arange(20_000)[::3],
        "matrix_f_order": np.asfortranarray(rng.random((40, 30))),
    }
    path = tmp_path / "a.npz"
    write_npz(path, arrays.items())
    with np.load(path) as data:
        assert data.files == list(arrays)
        for name, expected in arrays.items():
            assert data[name].dtype == expected.dtype and data[name].shape == expected.shape
            assert np.array_equal(data[name], expected), name
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every member's CRC checks
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
    assert kinds["random_floats.npy"] == zipfile.ZIP_STORED
    assert kinds["small_ints.npy"] == zipfile.ZIP_DEFLATED


def test_write_npz_refuses_object_arrays(tmp_path):
    with pytest.raises(ValueError, match="object"):
        write_npz(tmp_path / "o.npz", [("o", np.array([{}, None]))])


def test_saved_arrays_are_the_replications_joined(tmp_path):
    scenario = make_scenario(run={"duration": 5.0, "warmup": 1.0, "replications": 2})
    records = [simulate(scenario, k) for k in range(2)]
    save_arrays(tmp_path / "r.npz", records)
    with np.load(tmp_path / "r.npz") as data:
        a = {k: data[k] for k in data.files}
    first, second = records
    assert np.array_equal(a["arrival_s"], np.concatenate([first.arrival_s, second.arrival_s]))
    assert np.array_equal(a["replication"], np.repeat([0, 1], [first.arrival_s.size,
                                                               second.arrival_s.size]))
    shifted = np.where(second.batch >= 0, second.batch + first.batch_size.size, -1)
    assert np.array_equal(a["batch"], np.concatenate([first.batch, shifted]))
    assert np.array_equal(a["finish_s"], np.concatenate([first.finish_s, second.finish_s]),
                          equal_nan=True)
    assert np.array_equal(a["server"], np.concatenate([first.request_server,
                                                       second.request_server]))
    assert a["batch"].dtype == np.int64 and a["server"].dtype == np.int64
    assert list(a["warmup_s"]) == [1.0, 1.0]
