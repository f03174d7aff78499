"""Unit strings for durations ("500us", "5ms", "2s", "1min") and their formatting.

Owns the one place where a human duration becomes a float number of seconds.
"""

from __future__ import annotations

import math
import re

_SECONDS_PER_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "h": 3600.0,
}
_DURATION_RE = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zµ]*)\s*$")
DURATION_PATTERN = r"^\s*[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*(ns|us|µs|ms|s|sec|min|h)?\s*$"
UNIT_NAMES = ", ".join(u for u in _SECONDS_PER_UNIT if u != "µs")
_FORMAT_UNITS = (("us", 1e-6), ("ms", 1e-3), ("s", 1.0))


def parse_duration_s(value: object) -> float:
    """Return `value` in seconds: a number of seconds or a string such as "5ms".

    Raises ValueError naming the bad value; negative, NaN and infinite durations
    are refused (a duration is a finite amount of time).
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a duration such as 5ms or 2s, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_duration_string(value)
    else:
        raise ValueError(f"expected a duration such as 5ms or 2s, got {value!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be finite, got {value!r}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    return seconds


def _parse_duration_string(text: str) -> float:
    match = _DURATION_RE.match(text)
    if not match:
        raise ValueError(f"cannot read {text!r} as a duration (a number with a unit: {UNIT_NAMES})")
    number, unit = match.groups()
    if unit == "":
        return float(number)
    if unit not in _SECONDS_PER_UNIT:
        raise ValueError(f"unknown time unit {unit!r} in {text!r} (use one of {UNIT_NAMES})")
    return float(number) * _SECONDS_PER_UNIT[unit]


def format_duration(seconds: float, digits: int | None = None) -> str:
    """`seconds` as a unit string in the unit that reads best (`953.675us`, `2ms`, `1.5s`).

    With `digits`, rounded to that many significant digits; without, the shortest
    string that parses back to the same float (a float's repr if no unit string does).
    """
    if seconds == 0:
        return "0s"
    unit, scale = next((u, s) for u, s in _FORMAT_UNITS if abs(seconds) < s * 1000 or u == "s")
    if digits is not None:
        return f"{seconds / scale:.{digits}g}{unit}"
    text = f"{seconds / scale:.12g}{unit}"
    return text if parse_duration_s(text) == seconds else repr(float(seconds))
