"""Safe YAML reading and writing for scenario files and `--set` values.

Owns the YAML loader: safe constructs only, no anchors/aliases (they allow
"billion laughs" bombs), no duplicate keys (YAML would silently keep the last),
and every failure turned into a `ScenarioError` naming the file and position.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import ScenarioError

MAX_SCENARIO_BYTES = 10_000_000


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and duplicate mapping keys."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.constructor.ConstructorError(
                None, None, "anchors and aliases (*name) are not allowed here", mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, f"mapping key {key!r} is not a plain value",
                    key_node.start_mark) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _no_sexagesimal(loader: type[yaml.SafeLoader]) -> None:
    """YAML 1.1 reads `1:2:3` as the base-60 number 3723; here it stays a string."""
    pattern = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
    resolvers = {k: list(v) for k, v in loader.yaml_implicit_resolvers.items()}
    for first in "+-0123456789":
        resolvers.setdefault(first, []).insert(0, ("tag:yaml.org,2002:str", pattern))
    loader.yaml_implicit_resolvers = resolvers


_no_sexagesimal(_StrictLoader)
_StrictLoader.add_constructor(
    "tag:yaml.org,2002:map", lambda loader, node: loader.construct_mapping(node, deep=True))


def load_yaml_text(text: str, source: str) -> Any:
    """Parse YAML `text`; errors name `source` and the line."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ScenarioError(source, None, f"not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise ScenarioError(source, None, "not valid YAML: nested too deeply") from None


def load_yaml_file(path: Path) -> Any:
    """Read and parse a scenario file; a missing, binary or empty file is a ScenarioError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(str(path), None, "no such file") from None
    except IsADirectoryError:
        raise ScenarioError(str(path), None, "is a directory, not a scenario file") from None
    except OSError as exc:
        raise ScenarioError(str(path), None, f"cannot read: {exc.strerror}") from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError(str(path), None, f"file is larger than {MAX_SCENARIO_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(path), None, f"not UTF-8 text (bad byte at offset {exc.start})"
                            ) from None
    if "\x00" in text:
        raise ScenarioError(str(path), None, "binary file, not YAML text")
    data = load_yaml_text(text, str(path))
    if data is None:
        raise ScenarioError(str(path), None, "empty scenario file")
    return data


def parse_scalar(raw: str, source: str) -> Any:
    """A `--set` value read as YAML (`5ms` stays a string, `900` an int, `[1, 2]` a list)."""
    if raw.strip() == "":
        raise ScenarioError(source, None, "empty value")
    value = load_yaml_text(raw, source)
    if isinstance(value, dict):
        raise ScenarioError(source, None, "expected a value, got a mapping: set its keys one by "
                            "one (--set KEY.SUBKEY=VALUE)")
    return value


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
