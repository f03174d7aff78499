"""The batch-size trade-off example: its scenario files and its script's measured table."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import Scenario

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scenarios" / "batch_size_tradeoff.py"
FOLDER = ROOT / "scenarios" / "batch-size-tradeoff"
SIZES = (1, 10, 50)

# "  10  10ms  832.60 ± 1.59 (medium)  no/yes  18.26 (medium)  20.66 (medium)  1.20"
ROW = re.compile(
    r"^\s*(?P<size>\d+)\s+(?P<delay>\S+)\s+"
    r"(?P<capacity>[\d.]+) ± [\d.]+ \((?P<cap_label>\w+)\)\s+\S+\s+"
    r"(?P<p50>[\d.]+) \((?P<p50_label>\w+)\)\s+"
    r"(?P<p99>[\d.]+) \(\w+\)\s+(?P<batch>[\d.]+)$"
)


def load_script_module():
    spec = importlib.util.spec_from_file_location("batch_size_tradeoff", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def quick_table() -> dict[int, dict]:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {}
    for line in proc.stdout.splitlines():
        match = ROW.match(line)
        if match:
            rows[int(match["size"])] = match.groupdict()
    assert sorted(rows) == list(SIZES), proc.stdout
    return rows


def test_quick_run_prints_three_rows(quick_table):
    assert [quick_table[s]["delay"] for s in SIZES] == ["0ms", "10ms", "50ms"]


def test_throughput_increases_with_max_batch_size(quick_table):
    capacity = [float(quick_table[s]["capacity"]) for s in SIZES]
    assert capacity[0] < capacity[1] < capacity[2], capacity
    assert [quick_table[s]["cap_label"] for s in SIZES] == ["low", "medium", "high"]


def test_p50_latency_at_common_load_increases_with_max_batch_size(quick_table):
    p50 = [float(quick_table[s]["p50"]) for s in SIZES]
    assert p50[0] < p50[1] < p50[2], p50
    assert [quick_table[s]["p50_label"] for s in SIZES] == ["low", "medium", "high"]


@pytest.mark.parametrize("size", SIZES)
def test_scenario_file_validates(size):
    scenario = Scenario.from_yaml(FOLDER / f"max-batch-{size}.yaml")
    assert scenario.name == f"max-batch-{size}"
    assert scenario.batching.policy == "dynamic"
    assert scenario.batching.max_batch_size == size
    assert scenario.servers.count == 1
    assert scenario.arrival.process == "poisson"
    assert scenario.description


def test_scenario_files_match_the_script():
    """The YAML files and the script describe the same three settings at the common load."""
    module = load_script_module()
    for size, delay in module.SETTINGS:
        from_file = Scenario.from_yaml(FOLDER / f"max-batch-{size}.yaml")
        in_code = module.build(size, delay, module.COMMON_RATE_RPS, module.FULL["common"])
        keep = ("name", "seed", "run", "arrival", "batching", "service", "servers", "queue")
        assert {k: v for k, v in from_file.to_dict().items() if k in keep} == \
            {k: v for k, v in in_code.to_dict().items() if k in keep}
