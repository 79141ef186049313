"""Shared by the tests that drive the plugin: the suite run in a pytest subprocess."""

from __future__ import annotations

import pytest

from conformance.plugin import PACKAGE_DIR


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """`pytest <the installed suite> -q ARGS` in pytester's directory."""
    return pytester.runpytest_subprocess(str(PACKAGE_DIR), "-p", "no:cacheprovider", "-q", *args, timeout=180)
