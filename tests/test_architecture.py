"""The layering of ARCHITECTURE.md: the model never imports pytest, httpx or vcrpy."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"
MODEL = ["verdicts", "findings", "secrets", "probes", "registry", "targets", "observation", "answers", "detectors", "classify",
         "error_body", "sse", "schemas", "stream_rules", "traffic", "validate", "results_io", "report_html",
         "summary_md", "migration", "drift", "report_cli"]
FORBIDDEN = {"pytest", "httpx", "vcr", "_pytest"}
ONLY_HERE = {"vcr": "recording", "httpx": "http", "pytest": "plugin"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", MODEL)
def test_model_layer_imports_no_pytest_httpx_or_vcrpy(module: str) -> None:
    assert not imported_roots(PACKAGE / f"{module}.py") & FORBIDDEN


@pytest.mark.parametrize("library,owner", sorted(ONLY_HERE.items()))
def test_one_module_knows_each_library(library: str, owner: str) -> None:
    users = {p.stem for p in PACKAGE.glob("*.py") if library in imported_roots(p)}
    allowed = {owner, "test_suite", "cli"} if library == "pytest" else {owner}
    assert users <= allowed, f"{library} imported by {sorted(users - allowed)}"
