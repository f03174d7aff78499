"""The command line: run, check, schema; every bad input is exit 2 with one line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import cli

from conftest import scenario_dict

ROOT = Path(__file__).resolve().parents[2]
QUICK = ["--set", "run.duration=3s", "--set", "run.warmup=0.5s", "--replications", "2"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def files_under(path: Path):
    return sorted(p for p in path.rglob("*")) if path.exists() else []


def test_run_json_is_one_object_with_the_documented_fields(tmp_path):
    result = invoke("run", ROOT / "scenarios/quickstart.yaml", *QUICK, "--format", "json",
                    "--out", tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["name"] == "quickstart" and summary["replications"] == 2
    assert set(summary["requests"]) == {"arrived", "completed", "rejected", "timed_out",
                                        "in_flight"}
    for key in ("latency", "wait"):
        assert set(summary[key]) == {"mean", "p50", "p90", "p95", "p99", "p999", "max"}
        assert set(summary[f"{key}_ci95"]) == {"mean", "p50", "p90", "p95", "p99", "p999"}
    for key in ("throughput", "throughput_ci95", "goodput", "slo_attainment", "utilization"):
        assert isinstance(summary[key], float)
    assert summary["saturated"] is False
    assert sum(summary["batch_size"]["histogram"].values()) > 0


def test_run_writes_a_complete_results_folder(tmp_path):
    result = invoke("run", ROOT / "scenarios/quickstart.yaml", *QUICK, "--out", tmp_path)
    assert result.exit_code == 0
    assert "latency" in result.stdout and "p99.9" in result.stdout
    (folder,) = (tmp_path / "quickstart").iterdir()
    assert {p.name for p in folder.iterdir()} == {"scenario.yaml", "summary.json",
                                                  "requests.npz"}
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["meta"]["batchsim"] and "run" in summary["meta"]["command"]
    import numpy as np

    arrays = np.load(folder / "requests.npz")
    assert arrays["arrival_s"].size == summary["requests"]["arrived"]
    # the resolved scenario re-runs to the same statistics
    again = invoke("run", folder / "scenario.yaml", "--format", "json", "--no-save")
    rerun = json.loads(again.stdout)
    assert rerun["latency"] == summary["latency"]


def test_set_override_and_seed(tmp_path):
    a = invoke("run", ROOT / "scenarios/quickstart.yaml", *QUICK, "--format", "json",
               "--no-save", "--set", "batching.max_queue_delay=1ms", "--seed", "3")
    b = invoke("run", ROOT / "scenarios/quickstart.yaml", *QUICK, "--format", "json",
               "--no-save", "--seed", "3")
    sa, sb = json.loads(a.stdout), json.loads(b.stdout)
    assert sa["seed"] == 3
    assert sa["wait"]["p50"] < sb["wait"]["p50"]  # a shorter delay waits less


@pytest.mark.parametrize("patch, fragment", [
    ({"arrival": {"process": "poisson", "rate": -1}}, "arrival.rate: input should be greater"),
    ({"arrival": {"process": "poisson", "rat": 1}}, "arrival.rat: unknown key; did you mean"),
    ({"batching": {"policy": "dynamic", "max_batch_size": 0}}, "batching.max_batch_size"),
    ({"service": {"base": "2ms", "distribution": "gamma", "cv": -1}}, "service.cv"),
    ({"run": {"duration": "10s", "warmup": "10s"}}, "run.warmup"),
])
def test_bad_scenarios_exit_2_with_one_line_and_write_nothing(tmp_path, write_yaml, patch,
                                                              fragment):
    path = write_yaml(scenario_dict(**patch))
    out = tmp_path / "results"
    result = invoke("run", path, "--out", out)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ")
    assert fragment in lines[0]
    assert files_under(out) == []


@pytest.mark.parametrize("option, fragment", [
    ("arrival.rate=abc", "(--set arrival.rate=abc): arrival.rate: input should be a valid number"),
    ("batching.max_queue_delay=5 parsecs", "unknown time unit"),
    ("nokey", "expected key=value"),
    ("arrival.rate.x=1", "arrival.rate: is a value, not a section"),
])
def test_bad_set_exit_2(tmp_path, option, fragment):
    result = invoke("run", ROOT / "scenarios/quickstart.yaml", "--set", option,
                    "--out", tmp_path)
    assert result.exit_code == 2 and fragment in result.stderr
    assert files_under(tmp_path) == []


def test_unstable_system_warns_but_runs(tmp_path):
    result = invoke("run", ROOT / "scenarios/quickstart.yaml", "--set", "arrival.rate=2400",
                    "--set", "run.duration=2s", "--set", "run.warmup=0.2s", "--no-save",
                    "--replications", "1")
    assert result.exit_code == 0
    assert "warning: offered load 2400 req/s is 1.50x the capacity" in result.stderr
    assert "saturated" in result.stdout


def test_check_prints_the_resolved_scenario():
    result = invoke("check", ROOT / "scenarios/quickstart.yaml")
    assert result.exit_code == 0 and "max_queue_delay: 0.005" in result.stdout


def test_schema_is_json_schema():
    schema = json.loads(invoke("schema").stdout)
    assert schema["title"] == "batchsim scenario" and "arrival" in schema["properties"]


def test_every_command_is_listed_and_loads_from_its_own_module():
    """The group lists every command without importing it; each then comes from the
    module COMMAND_HOMES names (which imports nothing from cli.app)."""
    import importlib

    import click

    from simulator.cli.app import COMMAND_HOMES

    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted({"run", "check", "schema", "bench", *COMMAND_HOMES})
    for name, module in COMMAND_HOMES.items():
        command = cli.get_command(ctx, name)
        assert command is getattr(importlib.import_module(f"simulator.cli.{module}"), name)
        assert command.name == name
    assert cli.get_command(ctx, "nosuch") is None


def test_run_imports_only_what_it_needs(tmp_path, write_yaml):
    """`batchsim run` loads no other command's module, no plotting, scipy or process pool."""
    path = write_yaml(scenario_dict(run={"requests": 2000, "replications": 1}))
    probe = ("import runpy, sys; sys.argv = ['batchsim', 'run', sys.argv[1], '--no-save']\n"
             "try: runpy.run_module('simulator', run_name='__main__')\n"
             "except SystemExit: pass\n"
             "print(sorted(m for m in sys.modules if m.startswith(('simulator.cli.', 'scipy',"
             " 'matplotlib', 'concurrent.futures.process', 'tqdm', 'dask'))))")
    proc = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True,
                          text=True, cwd=tmp_path, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "['simulator.cli.app', 'simulator.cli.common']"


def test_python_m_simulator_and_missing_file(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "simulator", "run", "missing.yaml"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == "error: missing.yaml: no such file\n"
    assert not (tmp_path / "results").exists()


def test_from_summary_reruns_exactly(tmp_path):
    first = invoke("run", ROOT / "scenarios/quickstart.yaml", *QUICK, "--seed", "4",
                   "--format", "json", "--out", tmp_path)
    (folder,) = (tmp_path / "quickstart").iterdir()
    again = invoke("run", "--from", folder / "summary.json", "--format", "json", "--no-save")
    assert json.loads(again.stdout) == json.loads(first.stdout)
    assert invoke("run", "--from", folder, "--format", "json", "--no-save").stdout == again.stdout


def test_from_needs_a_summary(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    result = invoke("run", "--from", tmp_path / "x.json")
    assert result.exit_code == 2 and "meta.scenario: missing" in result.stderr
    result = invoke("run", ROOT / "scenarios/quickstart.yaml", "--from", tmp_path / "x.json")
    assert result.exit_code == 2
