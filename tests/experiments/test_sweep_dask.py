"""The same sweep on a Dask cluster (LocalCluster started in-process) is byte-identical."""

import pytest

from simulator.experiments.sweep import run_sweep
from simulator.experiments.sweep_points import resolve_sweep
from simulator.model.grid import parse_grid

from conftest import make_scenario

distributed = pytest.importorskip("distributed")


def sweep_in(folder):
    scenario = make_scenario(run={"duration": 3.0, "warmup": 0.5, "replications": 3})
    grids = [parse_grid(t, scenario) for t in ("arrival.rate=200:600:200",
                                                "batching.max_batch_size=1,8")]
    return resolve_sweep(scenario, grids, False, folder)


def test_dask_local_cluster_gives_the_same_bytes_as_local_processes(tmp_path):
    local = run_sweep(sweep_in(tmp_path / "local"), workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = run_sweep(sweep_in(tmp_path / "dask"), dask_client=client)
    assert remote.csv_path.read_bytes() == local.csv_path.read_bytes()
    for name in ("p00000.json", "p00005.json"):
        assert (remote.csv_path.parent / "points" / name).read_bytes() == \
            (local.csv_path.parent / "points" / name).read_bytes()
