"""Measuring a real model's service time by batch size: `batchsim profile`.

Owns timing a Python callable (a numpy or PyTorch model) at each batch size,
after warm-up calls, and turning the timings into a `service:` table: mean and
noise cv per batch size, plus the least-squares `base + per_item * k` with R².
The output file validates as a `service:` section and can be included with
`service: {table_file: profile.yaml}`.
"""

from __future__ import annotations

import importlib
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..model.errors import ScenarioError
from ..model.yaml_io import dump_yaml


def load_callable(spec: str, what: str = "callable") -> Callable:
    """`package.module:function` or `path/to/file.py:function` -> the function."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise ScenarioError(what, None, "expected module:function or file.py:function", spec)
    try:
        module = _import(target)
    except Exception as exc:  # any import-time failure of user code
        raise ScenarioError(what, None, f"cannot import {target}: {type(exc).__name__}: "
                            f"{exc}", spec) from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ScenarioError(what, None, f"{target} has no callable {name!r}", spec)
    return function


def _import(target: str):
    if target.endswith(".py"):
        path = Path(target).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no file {target}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(target)


def time_calls_s(model: Callable, make_input: Callable, batch_size: int, repeats: int,
                 warmup: int) -> list[float]:
    """Wall time of `repeats` calls of `model` on a fresh batch of `batch_size` each."""
    samples = []
    for i in range(warmup + repeats):
        batch = make_input(batch_size)
        started = time.perf_counter()
        model(batch)
        elapsed_s = time.perf_counter() - started
        if i >= warmup:
            samples.append(elapsed_s)
    return samples


def profile(model: Callable, make_input: Callable, batch_sizes: list[int], repeats: int = 50,
            warmup: int = 5, spec: str = "model") -> dict:
    """Time `model` at each batch size; return a `service:` mapping (with its fit)."""
    table = {}
    for size in batch_sizes:
        try:
            samples = time_calls_s(model, make_input, size, repeats, warmup)
        except Exception as exc:  # the user's model failed
            raise ScenarioError(spec, None, f"failed at batch size {size}: "
                                f"{type(exc).__name__}: {exc}") from None
        mean_s = statistics.fmean(samples)
        table[size] = {"mean": mean_s, "cv": statistics.pstdev(samples) / mean_s}
    return {"distribution": "lognormal", "table": table, "fit": linear_fit(table)}


def linear_fit(table: dict[int, dict]) -> dict:
    """Least-squares `mean = base + per_item * k` over the table, with R²."""
    sizes = np.array(sorted(table), dtype=float)
    means = np.array([table[int(k)]["mean"] for k in sizes])
    if sizes.size < 2:
        return {"base": float(means[0]), "per_item": 0.0, "r2": 1.0}
    per_item, base = np.polyfit(sizes, means, 1)
    residual = ((means - (base + per_item * sizes)) ** 2).sum()
    total = ((means - means.mean()) ** 2).sum()
    return {"base": max(float(base), 0.0), "per_item": max(float(per_item), 0.0),
            "r2": float(1 - residual / total) if total > 0 else 1.0}


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.3f}us"


def render_profile(service: dict, header: str) -> str:
    """The profile as YAML: durations as unit strings, a comment header."""
    table = {k: {"mean": _us(v["mean"]), "cv": round(v["cv"], 4)}
             for k, v in service["table"].items()}
    fit = service["fit"]
    body = {"service": {
        "distribution": service["distribution"], "table": table,
        "fit": {"base": _us(fit["base"]), "per_item": _us(fit["per_item"]),
                "r2": round(fit["r2"], 5)}}}
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + dump_yaml(body)
