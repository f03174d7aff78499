"""User-facing errors: `ScenarioError` and the translation of pydantic failures.

Owns the one-line message format `FILE: dotted.key: problem (got VALUE)` that
every bad scenario, `--set` override or trace file ends in, with a "did you
mean" hint for misspelt keys and choices.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

_NO_VALUE = object()


class ScenarioError(Exception):
    """Bad user input; the CLI prints `str(error)` and exits with code 2."""

    def __init__(self, source: str, field: str | None, message: str, value: Any = _NO_VALUE):
        self.source, self.field, self.message, self.value = source, field, message, value
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        got = ""
        if self.value is not _NO_VALUE and f"got {_short_repr(self.value)}" not in self.message:
            got = f" (got {_short_repr(self.value)})"  # unless the message already says so
        return one_line(f"{where}: {self.message}{got}")


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(32), *range(127, 160)]}
_CONTROL.update({0x2028: "\\u2028", 0x2029: "\\u2029"})


def one_line(text: str) -> str:
    """`text` with control characters (newlines included) shown as escapes."""
    return text.translate(_CONTROL)


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def translate_validation_error(exc: ValidationError, root: type[BaseModel], source: str,
                               overrides: dict[str, Any]) -> ScenarioError:
    """The first failure of `exc` as a ScenarioError (with a count of the others)."""
    errors = exc.errors(include_url=False)
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")  # a typo explains a "missing"
    field, message, value = _describe(errors[0], root)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    for key, override in overrides.items():
        if field and (field == key or field.startswith(key + ".") or key.startswith(field + ".")):
            source = f"{source} (--set {key}={override})"
            break
    return ScenarioError(source, field, message, value)


def _describe(error: dict, root: type[BaseModel]) -> tuple[str | None, str, Any]:
    kind, loc = error["type"], error["loc"]
    cause = (error.get("ctx") or {}).get("error")
    if hasattr(cause, "field"):
        value = cause.value if cause.value is not None else _NO_VALUE
        return _nested_field(cause.field, _walk(loc, root)[0]), cause.message, value
    path, node = _walk(loc[:-1], root) if kind == "extra_forbidden" else _walk(loc, root)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return _join(path, key), f"unknown key{_did_you_mean(key, _fields(node))}", _NO_VALUE
    if kind == "missing":
        return path or None, "required key is missing", _NO_VALUE
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_problem(error, path, list(node) if isinstance(node, dict) else [])
    message = error["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    return path or None, message[:1].lower() + message[1:], error.get("input", _NO_VALUE)


def _nested_field(field: str, path: str) -> str:
    """A section's own error key (`arrival.path`) placed where the section sits when it is
    nested in a list of its kind (`arrival.streams.1` -> `arrival.streams.1.path`)."""
    head, _, rest = field.partition(".")
    if rest and not field.startswith(path) and path.startswith(head + "."):
        return f"{path}.{rest}"
    return field


def _tag_problem(error: dict, path: str, expected: list[str]) -> tuple[str, str, Any]:
    ctx = error.get("ctx") or {}
    key = ctx.get("discriminator", "").strip("'")
    field = _join(path, key)
    if error["type"] == "union_tag_not_found":
        return field, f"required key is missing (one of: {', '.join(expected)})", _NO_VALUE
    tag = str(ctx.get("tag", ""))
    hint = _did_you_mean(tag, expected) or f" (choose one of: {', '.join(expected)})"
    return field, f"unknown {key}{hint}", tag


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (known keys: {', '.join(choices)})" if choices else ""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fields(node: Any) -> list[str]:
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _walk(loc: tuple, root: type[BaseModel]) -> tuple[str, Any]:
    """Dotted path of a pydantic `loc` (union tags dropped) and the model found there."""
    node: Any = root
    parts: list[str] = []
    for item in loc:
        if isinstance(node, dict) and item in node:
            node = node[item]
            continue
        parts.append(str(item))
        node = node.item if isinstance(node, _ListOf) else _child(node, item)
    return ".".join(parts), node


class _ListOf:
    """A list field's element (a model, or a {tag: class} dict for a tagged union)."""

    def __init__(self, item: Any):
        self.item = item


def _child(node: Any, item: Any) -> Any:
    if not (isinstance(node, type) and issubclass(node, BaseModel)):
        return None
    field = node.model_fields.get(item)
    return _resolve(field.annotation) if field else None


def _resolve(annotation: Any) -> Any:
    """A model class, a {tag: class} dict for a tagged union, or None."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _resolve(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is list:
        return _ListOf(_resolve(typing.get_args(annotation)[0]))
    optional = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(optional) == 1 and len(typing.get_args(annotation)) == 2:  # X | None
        return _resolve(optional[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    members = [a for a in typing.get_args(annotation)
               if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(members) == 1:
        return members[0]
    tags = {}
    for member in members:
        for name in ("process", "policy"):
            field = member.model_fields.get(name)
            if field is not None and typing.get_origin(field.annotation) is typing.Literal:
                tags.update({tag: member for tag in typing.get_args(field.annotation)})
    return tags or None
