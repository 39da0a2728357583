"""The layers of prorata, from the bottom up, and the imports they allow.

Every module of ``contracts/``, ``transforms/`` and ``flows/`` belongs to one layer (the longest
prefix of :data:`LAYERS` that names it) and imports only from its own layer or the layers below.
No module reaches itself through its imports: no cycle, even through an import inside a function
(a cycle hidden in a function is still a cycle, only discovered later). Imports are read from the
source (``ast``), so the test sees every import, wherever it stands.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contracts", "transforms", "flows")

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # generic polars machinery, no tax meaning: lookups by key, sums over runs, precision, tables
    ("kernels", ("transforms.kernels",)),
    # the law: rules, their dated parameters, the box 7 table, the rounding conventions
    ("law", ("transforms.law",)),
    # what crosses a boundary: the extract's tables, their rules, validation and quarantine
    ("contracts", ("contracts",)),
    # the IRS's formats: FIRE, IRIS and what they share (what the IRS accepts, as the law does)
    ("irs", ("transforms.irs",)),
    # the engine: the law evaluated over whole frames; forms, edit checks, explain
    ("engine", ("transforms.engine",)),
    # after the forms are filed: reconciliation, corrections, record statuses
    ("season", ("transforms.season",)),
    # flows/: orchestration, I/O, the command line, in layers of their own
    # faults as one line, what an operator can act on
    ("flows.errors", ("flows.errors",)),
    # disk: the extract, atomic outputs, the store and its history, the IRS schema package; the
    # importer and the sample generator, which write extracts
    ("flows.io", ("flows.io", "flows.importer", "flows.sample")),
    # prorata.toml
    ("flows.settings", ("flows.settings",)),
    # the IRS files of a run or a filing
    ("flows.irs", ("flows.irs",)),
    # what people read: statements, reports, exports
    ("flows.render", ("flows.render",)),
    # the run: read, validate, compute, write; its reconciliation
    ("flows.run", ("flows.run",)),
    # the filing season over the store
    ("flows.season", ("flows.season",)),
    # Prefect: the flows, the schedule, the progress artifacts, the server
    ("flows.prefect", ("flows.prefect",)),
    # the command line: parsing, then the call
    ("flows.cli", ("flows.cli",)),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of :data:`PACKAGES`, by dotted name; the packages' own (empty) ``__init__``
    files aside: they hold no code and belong to no one layer."""
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if module_name(path) not in PACKAGES
    }


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ours that ``path`` imports, anywhere in it: ``from a.b import c`` is an
    import of ``a.b.c`` when that is a module, of ``a.b`` otherwise."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        found |= {t for t in targets if t.split(".")[0] in PACKAGES and t != name}
    return found


def layer_of(name: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    if rank is None:
        raise AssertionError(f"{name} belongs to no layer: add it to LAYERS")
    return rank


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def violations() -> set[tuple[str, str, str]]:
    edges = graph()
    found = set()
    for importer, imported in ((a, b) for a, bs in edges.items() for b in bs):
        if layer_of(imported) > layer_of(importer):
            found.add((importer, imported, "upward"))
    for component in cycles(edges):
        members = set(component)
        for importer in component:
            for imported in edges[importer] & members:
                found.add((importer, imported, "cycle"))
    return found


def test_every_module_belongs_to_a_layer():
    for name in modules():
        layer_of(name)
    for package in PACKAGES:
        assert not (ROOT / package / "__init__.py").read_text().strip(), package


def test_no_module_imports_from_a_layer_above_it_or_in_a_cycle():
    found = sorted(violations())
    assert not found, "imports against the layers:\n" + "\n".join(
        f"  {a} -> {b} ({why})" for a, b, why in found
    )


def test_the_layer_test_sees_an_upward_import_and_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("flows.cli.main") > layer_of("transforms.engine") > layer_of("contracts.validate")
