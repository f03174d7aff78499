"""No new import cycles between simulator's modules (read with ast, nothing imported).

Imports inside functions count too: a lazy import still ties two modules together, and
so does a table of modules imported by name (`COMMAND_HOMES = {command: module}`).
KNOWN lists the cycles the layout inherited; removing one is welcome, adding one fails.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "simulator"

KNOWN: set[frozenset[str]] = set()
LAZY_TABLES = {"COMMAND_HOMES"}
"""Names of tables whose values are modules of the same package, imported by name."""


def modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def imports(name: str, path: Path, is_package: bool, known: dict) -> set[str]:
    """The modules of simulator that `name` imports, anywhere in its body."""
    package = name if is_package else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets |= {f"{module}.{a.name}" if f"{module}.{a.name}" in known else module
                        for a in node.names}
        elif isinstance(node, ast.Assign | ast.AnnAssign) and _names(node) & LAZY_TABLES:
            values = node.value.values if isinstance(node.value, ast.Dict) else node.value.elts
            targets |= {f"{package}.{v.value}" for v in values if isinstance(v, ast.Constant)}
    return {t for t in targets if t in known and t != name}


def _names(node: ast.Assign | ast.AnnAssign) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {t.id for t in targets if isinstance(t, ast.Name)}


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_new_import_cycles():
    known = modules()
    graph = {name: imports(name, path, is_package, known)
             for name, (path, is_package) in known.items()}
    found = {frozenset(m.removeprefix("simulator.") for m in c) for c in cycles(graph)}
    new = [sorted(c) for c in found if not any(c <= k for k in KNOWN)]
    assert not new, f"import cycles: {new}"


def test_the_command_table_counts_as_imports():
    known = modules()
    path, is_package = known["simulator.cli.app"]
    assert {"simulator.cli.sweep", "simulator.cli.plan", "simulator.cli.profile",
            "simulator.cli.calibrate"} <= imports("simulator.cli.app", path, is_package, known)


def test_the_check_sees_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [{"a", "b", "c"}]
