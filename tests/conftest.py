"""Fixtures shared by the project's own tests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeConfig, FakeServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    """A default OpenAI-like fake server over a real socket, for one test."""
    with FakeServer(FakeConfig()) as srv:
        yield srv


@dataclass(frozen=True)
class SuiteRun:
    """One `pytest conformance` run in a subprocess: its output and the reports it wrote."""

    proc: subprocess.CompletedProcess[str]
    report_dir: Path

    @property
    def output(self) -> str:
        """The end of stdout and stderr, for assertion messages."""
        return self.proc.stdout[-3000:] + self.proc.stderr[-2000:]

    def results(self) -> dict[str, Any]:
        path = self.report_dir / "results.json"
        assert path.is_file(), self.output
        return json.loads(path.read_text())


def run_suite(report_dir: Path, *args: str) -> SuiteRun:
    """`pytest conformance -q ARGS` from the checkout, as a user types it (no cache: a child run must not
    rewrite the `--lf` state of the run that started it)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                           "--report-dir", str(report_dir), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    return SuiteRun(proc, report_dir)


@pytest.fixture(scope="session")
def embedded_default(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    """The embedded default (`pytest conformance`, no target option: every reference target replayed from the
    bundled cassettes against the shipped expectations), run once for all the tests that read it."""
    return run_suite(tmp_path_factory.mktemp("embedded-default"))
