"""Sweep grids: `KEY=VALUES` strings and `sweep:` sections -> lists of override dicts.

Owns the grid syntax shared by `batchsim sweep` and `batchsim plan`:

- comma lists of YAML scalars: `1,8,32`, `1ms,2ms,5ms`, `poisson,gamma`;
- linear ranges `start:stop:step`, stop included when it falls on the step
  (`100:2000:100`, `1ms:10ms:1ms` with units);
- log-spaced ranges `start:stop:log:N` (`10:10000:log:7`: N points, both ends included).

Several grids form the cartesian product (last key varies fastest), or are
paired one-to-one with `zip`. Every failure is a `ScenarioError` naming the
`--grid` option (or file) and the key.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from pydantic import Field, field_validator

from .config import FieldError, Section
from .errors import ScenarioError
from .units import format_duration, parse_duration_s
from .yaml_io import parse_scalar

MAX_GRID_VALUES = 10_000
"""One grid axis may hold at most this many values."""
MAX_POINTS = 100_000
"""A sweep may hold at most this many points."""

Grid = tuple[str, list[Any]]


class SweepSection(Section):
    """The `sweep:` section of a scenario file: grids swept by `batchsim sweep`."""

    grid: dict[str, Any] = Field(default_factory=dict, description="dotted key -> values: "
                                 "a list, a comma list, start:stop:step or start:stop:log:N")
    zip: bool = Field(False, description="pair the grids one-to-one instead of the "
                      "cartesian product")

    @field_validator("grid")
    @classmethod
    def _parse(cls, grid: dict[str, Any]) -> dict[str, Any]:
        for key, values in grid.items():
            try:
                grid_values(key, values, "sweep")
            except ScenarioError as exc:
                raise FieldError(f"sweep.grid.{key}", exc.message, exc.value) from None
        return grid


def parse_grid(text: str, scenario=None, source: str | None = None) -> Grid:
    """`"arrival.rate=100:2000:100"` -> `("arrival.rate", [100, 200, ..., 2000])`.

    With `scenario`, every value is also checked against it (the key must
    exist and each value be valid there), so a typo fails before anything runs.
    """
    source = source or f"--grid {text}"
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise ScenarioError(source, None, "expected KEY=VALUES, e.g. arrival.rate=100:2000:100 "
                            "or batching.max_batch_size=1,8,32")
    values = grid_values(key, raw, source)
    if scenario is not None:
        check_grid(scenario, key, values, source)
    return key, values


def grid_values(key: str, raw: Any, source: str) -> list[Any]:
    """The values of one grid axis: `raw` is a VALUES string, a list or one scalar."""
    if isinstance(raw, list):
        values = list(raw)
    elif isinstance(raw, str):
        values = _parse_values_text(key, raw, source)
    elif isinstance(raw, dict):
        raise ScenarioError(source, key, "expected a list of values or a range, got a mapping")
    else:
        values = [raw]
    if not values:
        raise ScenarioError(source, key, "no values")
    if len(values) > MAX_GRID_VALUES:
        raise ScenarioError(source, key, f"{len(values)} values, more than {MAX_GRID_VALUES}")
    return values


def _parse_values_text(key: str, raw: str, source: str) -> list[Any]:
    text = raw.strip()
    if ":" in text and "," not in text and not text.startswith(("[", "'", '"')):
        return _parse_range(key, text, source)
    items = [item.strip() for item in text.strip("[]").split(",")]
    if any(item == "" for item in items):
        raise ScenarioError(source, key, "empty value in the list", raw)
    return [parse_scalar(item, source) for item in items]


def _parse_range(key: str, text: str, source: str) -> list[Any]:
    parts = [p.strip() for p in text.split(":")]
    if len(parts) == 4 and parts[2].lower() == "log":
        return _log_range(key, parts, text, source)
    if len(parts) != 3:
        raise ScenarioError(source, key, "a range is start:stop:step or start:stop:log:N", text)
    start, stop, step = (_range_number(key, p, text, source) for p in parts)
    unit = _common_unit(key, [start, stop, step], text, source)
    a, b, d = (n[0] for n in (start, stop, step))
    if d <= 0:
        raise ScenarioError(source, key, "the range step must be positive", text)
    if b < a:
        raise ScenarioError(source, key, "the range stop is below its start", text)
    count = math.floor((b - a) / d * (1 + 1e-12) + 1e-9) + 1
    if count > MAX_GRID_VALUES:
        raise ScenarioError(source, key, f"{count} values, more than {MAX_GRID_VALUES}", text)
    values = [a + i * d if isinstance(d, int) and isinstance(a, int) else _clean(a + i * d)
              for i in range(count)]
    return _with_unit(values, unit)


def _log_range(key: str, parts: list[str], text: str, source: str) -> list[Any]:
    start, stop = (_range_number(key, p, text, source) for p in parts[:2])
    unit = _common_unit(key, [start, stop], text, source)
    try:
        count = int(parts[3])
    except ValueError:
        raise ScenarioError(source, key, "the number of log-spaced points must be an integer",
                            text) from None
    a, b = start[0], stop[0]
    if a <= 0 or b <= 0:
        raise ScenarioError(source, key, "a log range needs positive start and stop", text)
    if b < a:
        raise ScenarioError(source, key, "the range stop is below its start", text)
    if not 2 <= count <= MAX_GRID_VALUES:
        raise ScenarioError(source, key, f"a log range needs 2 to {MAX_GRID_VALUES} points",
                            text)
    raw = [a * (b / a) ** (i / (count - 1)) for i in range(count)]
    if isinstance(a, int) and isinstance(b, int) and unit is None:
        values = list(dict.fromkeys(round(v) for v in raw))
    else:
        values = [_clean(v, digits=6) for v in raw]
    values[0], values[-1] = a, b
    return _with_unit(values, unit)


def _range_number(key: str, word: str, text: str, source: str) -> tuple[float | int, bool]:
    """(value, has_unit): ints stay ints, `5ms` becomes seconds."""
    try:
        return int(word), False
    except ValueError:
        pass
    try:
        number = float(word)
        if math.isfinite(number):
            return number, False
    except ValueError:
        pass
    try:
        return parse_duration_s(word), True
    except ValueError:
        raise ScenarioError(source, key, f"cannot read {word!r} in a range (numbers or "
                            "durations such as 5ms)", text) from None


def _common_unit(key, numbers, text, source) -> str | None:
    """'s' when the range is of durations; mixing 5ms with bare numbers is refused."""
    with_unit = [has for _, has in numbers]
    if any(with_unit) and not all(with_unit):
        raise ScenarioError(source, key, "give every number of a duration range a unit", text)
    return "s" if all(with_unit) else None


def _with_unit(values: list, unit: str | None) -> list:
    return [format_duration(float(v)) for v in values] if unit else values


def _clean(value: float, digits: int = 12) -> float:
    """Round away float noise such as 0.30000000000000004."""
    return float(f"{value:.{digits}g}")


def check_grid(scenario, key: str, values: list[Any], source: str) -> None:
    """Each value must be valid for `key` in `scenario`; the error names the key."""
    for value in values:
        try:
            scenario.with_overrides({key: value}, source)
        except ScenarioError as exc:
            field = exc.field or key
            raise ScenarioError(source, field, exc.message, exc.value if exc.value is not None
                                else value) from None


def grid_points(grids: list[Grid], zip_grids: bool = False,
                source: str = "--grid") -> list[dict[str, Any]]:
    """The override dict of every point: cartesian product, or pairs with `zip_grids`."""
    keys = [key for key, _ in grids]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ScenarioError(source, duplicates[0], "swept twice")
    if not grids:
        return [{}]
    if zip_grids:
        lengths = {key: len(values) for key, values in grids}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise ScenarioError(source, keys[0], f"--zip needs grids of equal length ({shown})")
        combos = list(zip(*(values for _, values in grids), strict=True))
    else:
        total = math.prod(len(values) for _, values in grids)
        if total > MAX_POINTS:
            raise ScenarioError(source, keys[0], f"{total} points, more than {MAX_POINTS}")
        combos = list(itertools.product(*(values for _, values in grids)))
    return [dict(zip(keys, combo, strict=True)) for combo in combos]


def merge_grids(file_grids: list[Grid], cli_grids: list[Grid]) -> list[Grid]:
    """The file's grids with command-line grids replacing the same key or appended."""
    merged = dict(file_grids)
    merged.update(dict(cli_grids))
    return list(merged.items())


def section_grids(section: SweepSection | None, scenario=None,
                  source: str = "sweep") -> list[Grid]:
    """The grids of a scenario file's `sweep:` section (checked against `scenario`)."""
    if section is None:
        return []
    grids = []
    for key, raw in section.grid.items():
        where = f"{source}: sweep.grid"
        values = grid_values(key, raw, where)
        if scenario is not None:
            check_grid(scenario, key, values, where)
        grids.append((key, values))
    return grids
