"""Ctrl-C and SIGTERM during `batchsim run`: stop within a second, exit 130, write nothing."""

import signal
import subprocess
import sys
import time

import pytest

LONG = """\
name: long
run: {duration: 5000s, replications: 4}
arrival: {process: poisson, rate: 1000}
batching: {policy: dynamic, max_batch_size: 16, max_queue_delay: 5ms}
service: {base: 2ms, per_item: 0.5ms, distribution: lognormal, cv: 0.2}
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_run_stops_fast_and_leaves_nothing(tmp_path, sig, workers):
    scenario = tmp_path / "long.yaml"
    scenario.write_text(LONG)
    out = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "run", str(scenario), "--out", str(out),
         "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(2.0)  # well inside the simulation (it takes minutes)
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 1.0
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    leftovers = list(out.rglob("*")) if out.exists() else []
    assert [p for p in leftovers if p.is_file()] == []
