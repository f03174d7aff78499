"""Dotted-key overrides of a scenario (`--set`, sweep points, `with_overrides`).

Owns how `{"arrival.rate": 900}` is written into a scenario mapping before it is
validated, and how `--set key=value` options become such a mapping (values read
as YAML scalars). Switching `batching.policy` drops the knobs the new policy does
not take (`switch_policy`), so that a sweep can go across policies.
"""

from __future__ import annotations

import copy
from typing import Any

from ..sim.batching import switch_policy
from .errors import ScenarioError
from .yaml_io import parse_scalar


def apply_overrides(data: dict, overrides: dict[str, Any], source: str) -> dict:
    """A deep copy of `data` with each dotted key set to its value."""
    data = copy.deepcopy(data)
    for key, value in overrides.items():
        parts = key.split(".")
        if not key or any(not p for p in parts):
            raise ScenarioError(source, key, "is not a dotted key such as arrival.rate")
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ScenarioError(source, ".".join(parts[: depth + 1]),
                                    f"is a value, not a section, so {key} cannot be set", child)
            node = child
        previous = node.get(parts[-1])
        node[parts[-1]] = value
        if parts[-2:] == ["batching", "policy"]:
            prefix = key[: -len("policy")]
            switch_policy(node, previous, {k[len(prefix):] for k in overrides
                                           if k.startswith(prefix)})
    return data


def parse_set_options(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`["a.b=5ms", ...]` -> `{"a.b": "5ms"}`, values read as YAML scalars."""
    overrides = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError("--set", item, "expected key=value, e.g. arrival.rate=900")
        overrides[key.strip()] = parse_scalar(raw, f"--set {item}")
    return overrides
