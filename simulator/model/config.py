"""Shared building blocks of the scenario schema.

Owns the strict pydantic base class every scenario section derives from, the
duration field types (a number of seconds or a unit string), the cross-field
error that names its own dotted key, and the name -> class registries that let
a new arrival process or batching policy be one class in one place.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from .units import DURATION_PATTERN, parse_duration_s

_DURATION_JSON_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": DURATION_PATTERN},
    ],
    "description": "seconds, or a number with a unit: 500us, 5ms, 2s, 1min",
}

Seconds = Annotated[
    float,
    BeforeValidator(parse_duration_s),
    WithJsonSchema(_DURATION_JSON_SCHEMA),
]
"""A duration in seconds; YAML may give `0.005` or `"5ms"`."""

PositiveSeconds = Annotated[Seconds, Field(gt=0)]


class Section(BaseModel):
    """Base of every scenario section: unknown keys, NaN/inf and type coercion refused."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class FieldError(ValueError):
    """A cross-field check that fails on one field: carries its dotted key and value."""

    def __init__(self, field: str, message: str, value: Any = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.value = value


T = TypeVar("T")


class Registry(dict[str, T]):
    """Name -> class; registering a name twice is an error."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str, cls: T) -> T:
        if name in self:
            raise ValueError(f"duplicate {self.kind} name {name!r}: {self[name]!r} and {cls!r}")
        self[name] = cls
        return cls
