"""Fuzzing the command line in-process: malformed scenarios, overrides and traces.

Every malformed input must end with exit code 2 and exactly one line on stderr,
`error: ...` naming the file (and the field where there is one), never a
traceback or a hang, and never a file left under the results root. Inputs that
happen to be valid are checked with `batchsim check` instead (exit 0).
"""

import copy
import math
import os
import string
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import cli
from simulator.model.errors import ScenarioError
from simulator.model.scenario import Scenario

from conftest import BASE

EXAMPLES = int(os.environ.get("BATCHSIM_FUZZ_EXAMPLES", "400"))
FUZZ = settings(max_examples=EXAMPLES, deadline=5000, derandomize=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
SMALL_RUN = {"duration": 0.2, "warmup": 0, "replications": 1}

junk_values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -1, 0, 1e300, -1e-300, "", "5 parsecs",
                     "-5ms", "5ms", "1e999s", "nan", "inf ms", "0x10", "auto", "∞", "\x00"]),
    st.text(max_size=12), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(string.ascii_letters, max_size=5), st.integers(), max_size=2),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))


def _self_contained(data) -> bool:
    """A shipped scenario that refers to no other file (tables, samples, traces)."""
    text = yaml.safe_dump(data)
    return "_file" not in text and "process: trace" not in text


def _shipped_scenarios() -> list[dict]:
    """Every scenario file in scenarios/, so new sections (replicas, classes, stages,
    ensemble, network, overhead, faults, closed loop, sweep, hardware) are fuzzed too."""
    root = Path(__file__).resolve().parents[2] / "scenarios"
    found = []
    for path in sorted(root.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and "name" in data and _self_contained(data):
            found.append(data)
    return found


BASES = [BASE, *_shipped_scenarios()]
BASE_PATHS = [(i, p) for i, base in enumerate(BASES) for p in _paths(base) if p]
KNOWN_KEYS = sorted({p[-1] for _, p in BASE_PATHS if isinstance(p[-1], str)}
                    | {"capacity", "timeout", "slo", "latency", "count", "table", "cv",
                       "process"})


@st.composite
def mutated_scenarios(draw):
    index = draw(st.integers(0, len(BASES) - 1))
    data = copy.deepcopy(BASES[index])
    data["run"] = dict(SMALL_RUN)
    paths = [p for i, p in BASE_PATHS if i == index and p[0] != "run"]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["set", "delete", "rename", "add"]))
        parent = data
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        key = path[-1]
        if action == "set":
            parent[key] = draw(junk_values)
        elif action == "delete":
            parent.pop(key, None)
        elif action == "rename" and key in parent:
            parent[f"{key}{draw(st.sampled_from(['s', '_', 'x']))}"] = parent.pop(key)
        else:
            parent[draw(st.sampled_from(KNOWN_KEYS + ["bogus"]))] = draw(junk_values)
    return data


def _is_valid(data) -> bool:
    try:
        Scenario.from_dict(data, source="x")
        return True
    except ScenarioError:
        return False


def _assert_rejected(result, source: str, out):
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and source in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.rglob("*"))


def _run(args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)


def _dump(data) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return repr(data)


@FUZZ
@given(mutated_scenarios())
def test_malformed_scenarios(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("fuzz")
    path, out = tmp / "s.yaml", tmp / "results"
    path.write_text(_dump(data))
    if _is_valid(yaml.safe_load(path.read_text())):
        assert _run(["check", path]).exit_code == 0
        return
    _assert_rejected(_run(["run", path, "--out", out]), str(path), out)


@FUZZ
@given(st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    st.sampled_from([
        b"", b"\xff\xfe\xfa", b"\x00\x01", b"a: &a [1]\nb: *a\n",
        b"a: &a [x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b]\n",
        b"!!python/object/apply:os.system ['echo hi']", b"name: [", b"- 1\n- 2\n",
        b"name: a\nname: b\n", b"{" * 5000, b"[" * 5000 + b"]" * 5000,
    ]),
))
def test_junk_files(tmp_path_factory, content):
    tmp = tmp_path_factory.mktemp("junk")
    path, out = tmp / "s.yaml", tmp / "results"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    result = _run(["run", path, "--out", out])
    if result.exit_code == 0:  # a junk file that is a valid scenario: impossible
        raise AssertionError(content)
    _assert_rejected(result, str(path), out)


override_keys = st.one_of(
    st.sampled_from(sorted({".".join(map(str, p)) for _, p in BASE_PATHS})),
    st.text(string.ascii_lowercase + "._", min_size=0, max_size=20),
    st.sampled_from(["run.replications", "queue.capacity", "queue.timeout", "slo.latency",
                     "servers.count", "arrival.process", "batching.policy", "a..b", ".", ""]),
)
override_values = st.one_of(
    st.text(max_size=15),
    st.sampled_from(["-1", "nan", ".inf", "1e400", "5 parsecs", "[1, 2", "{a: 1}", "null",
                     "yes", "0", "3ms", "&a x", "*a", "!!binary aGk=", "1:2:3"]),
)


@FUZZ
@given(st.lists(st.tuples(override_keys, override_values), min_size=1, max_size=3))
def test_malformed_overrides(tmp_path_factory, sets):
    tmp = tmp_path_factory.mktemp("sets")
    path, out = tmp / "s.yaml", tmp / "results"
    data = copy.deepcopy(BASE)
    data["run"] = dict(SMALL_RUN)
    path.write_text(yaml.safe_dump(data))
    args = [a for key, value in sets for a in ("--set", f"{key}={value}")]
    result = _run(["run", path, "--out", out, "--no-save", *args])
    if result.exit_code == 0:
        return  # a valid override: ran a 0.2 s scenario, wrote nothing (--no-save)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert str(path) in lines[0] or "--set" in lines[0]
    assert not out.exists()


trace_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-5, 50).map(str),
    st.text(string.printable, max_size=8), st.sampled_from(["2023-11-16 18:17:03.9799600",
                                                             "2023-13-45 99:00", "", "nan"]),
)


@FUZZ
@given(st.lists(trace_cells, max_size=8), st.sampled_from([0, 1, "t", "TIMESTAMP"]))
def test_malformed_traces(tmp_path_factory, cells, column):
    tmp = tmp_path_factory.mktemp("trace")
    trace, path, out = tmp / "trace.csv", tmp / "s.yaml", tmp / "results"
    trace.write_text("t\n" + "\n".join(c.replace(",", ";") for c in cells))
    data = copy.deepcopy(BASE)
    data["run"] = dict(SMALL_RUN)
    data["arrival"] = {"process": "trace", "path": "trace.csv", "column": column}
    path.write_text(yaml.safe_dump(data))
    result = _run(["run", path, "--out", out])
    if result.exit_code == 0:
        return  # a well-formed trace
    _assert_rejected(result, str(path), out)
    assert "arrival" in result.stderr
