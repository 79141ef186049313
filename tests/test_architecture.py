"""The layering of ARCHITECTURE.md, checked on the import statements of every module.

The folders are the layers: model < wire, judge < features < run < report-free top (plugin, cli, validate).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"
LAYERS = ("model", "wire", "judge", "features", "run", "report")
# Which of the package's own layers each layer may import (itself included). The top-level modules
# (plugin, cli, validate, __main__, test_suite) may import every layer.
MAY_IMPORT = {
    "model": {"model"},
    "wire": {"wire", "model"},  # the wire knows no judge, run or report
    "judge": {"judge", "model"},  # the judge knows no wire, run or report
    "features": {"features", "judge", "model"},
    "run": {"run", "features", "judge", "wire", "model"},
    "report": {"report", "model"},  # reports read results dictionaries only
}
FORBIDDEN = {"pytest", "httpx", "vcr", "_pytest", "openai"}
# the openai SDK is a client library (the optional [sdk] extra): one module drives it, through wire/http's transport
ONLY_HERE = {"vcr": "wire/recording.py", "httpx": "wire/http.py", "pytest": "plugin.py", "openai": "run/sdk.py"}
PURE_LAYERS = ("model", "judge", "features", "report")  # never pytest, httpx or vcrpy


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def layer_of(path: Path) -> str | None:
    first = path.relative_to(PACKAGE).parts[0]
    return first if first in LAYERS else None


def imports(path: Path) -> list[str]:
    """Absolute module names imported by `path` (anywhere in the file, function-local imports included)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "conformance":  # from conformance import x → conformance.x
                names.extend(f"conformance.{alias.name}" for alias in node.names)
            else:
                names.append(node.module)
                names.extend(f"{node.module}.{alias.name}" for alias in node.names
                             if node.module.startswith("conformance."))
    return names


def layers_imported(path: Path) -> set[str]:
    out = set()
    for name in imports(path):
        parts = name.split(".")
        if parts[0] == "conformance" and len(parts) > 1 and parts[1] in LAYERS:
            out.add(parts[1])
    return out


def test_every_module_lives_in_a_layer_or_at_the_top() -> None:
    top = {rel(p) for p in modules() if layer_of(p) is None}
    assert top <= {"__init__.py", "__main__.py", "cli.py", "plugin.py", "preflight.py", "validate.py",
                   "uses.py", "test_suite.py"}, top


@pytest.mark.parametrize("path", [p for p in modules() if layer_of(p)], ids=rel)
def test_layer_imports_only_what_it_may(path: Path) -> None:
    layer = layer_of(path)
    assert layer is not None
    bad = layers_imported(path) - MAY_IMPORT[layer]
    assert not bad, f"{rel(path)} ({layer}) imports {sorted(bad)}; {layer} may import {sorted(MAY_IMPORT[layer])}"


@pytest.mark.parametrize("path", [p for p in modules() if layer_of(p) in PURE_LAYERS], ids=rel)
def test_pure_layers_import_no_pytest_httpx_or_vcrpy(path: Path) -> None:
    assert not {n.split(".")[0] for n in imports(path)} & FORBIDDEN


@pytest.mark.parametrize("library,owner", sorted(ONLY_HERE.items()))
def test_one_module_knows_each_library(library: str, owner: str) -> None:
    users = {rel(p) for p in modules() if library in {n.split(".")[0] for n in imports(p)}}
    allowed = {owner, "test_suite.py", "cli.py"} if library == "pytest" else {owner}
    assert users <= allowed, f"{library} imported by {sorted(users - allowed)}"


def test_no_import_cycles_between_modules() -> None:
    """Module-level imports form no cycle (function-local imports included: they hide cycles, not break them)."""
    graph: dict[str, set[str]] = {}
    names = {".".join(("conformance", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__"): p
             for p in modules()}
    for name, path in names.items():
        graph[name] = {n for n in imports(path) if n in names and n != name and not name.startswith(n + ".")
                       and not n == "conformance"}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    """The checker itself: a judge module importing the wire is reported."""
    fake = tmp_path / "judge_x.py"
    fake.write_text("from conformance.wire.http import Client\n")
    assert "wire" in {n.split(".")[1] for n in imports(fake) if n.startswith("conformance.")}
    assert "wire" not in MAY_IMPORT["judge"]
