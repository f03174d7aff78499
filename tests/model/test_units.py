import math

import pytest

from simulator.model.units import format_duration, parse_duration_s


@pytest.mark.parametrize("text, seconds", [
    ("500us", 500e-6), ("5ms", 0.005), ("2s", 2.0), ("1min", 60.0), ("0.5 ms", 0.0005),
    ("1h", 3600.0), ("250ns", 250e-9), ("3", 3.0), (" 7ms ", 0.007), ("1e-3s", 1e-3),
    (0, 0.0), (0.25, 0.25), (3, 3.0),
])
def test_parse_duration(text, seconds):
    assert parse_duration_s(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize("bad, fragment", [
    ("5 parsecs", "unknown time unit 'parsecs'"), ("fast", "cannot read 'fast'"),
    ("-5ms", "must not be negative"), (-1, "must not be negative"),
    (math.nan, "finite"), (math.inf, "finite"), ("", "cannot read"), (True, "expected a duration"),
    (None, "expected a duration"), ([1], "expected a duration"), ("5m", "unknown time unit 'm'"),
])
def test_bad_durations_name_the_value(bad, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_duration_s(bad)


@pytest.mark.parametrize("seconds", [0.0, 0.005, 2e-6, 1.5, 60.0, 1234.5678, 1e-9])
def test_format_duration_round_trips(seconds):
    assert parse_duration_s(format_duration(seconds)) == seconds
