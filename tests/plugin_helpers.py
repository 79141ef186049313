"""Shared by the tests that drive the plugin: the suite run by pytester, in this process."""

from __future__ import annotations

# pytester drops, after each in-process run, the modules first imported during it. httpcore imports its async
# backend (and anyio its asyncio backend) on the first connection: imported here once, so that every run maps
# connection errors with the same classes (else the second run's ConnectError is not httpx's).
import anyio._backends._asyncio  # noqa: F401
import httpcore._backends.anyio  # noqa: F401
import pytest

from conformance.plugin import PACKAGE_DIR


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """`pytest <the installed suite> -q ARGS` in pytester's directory: a fresh pytest session (its own config,
    options, plugin state and reports) in this process, which saves an interpreter start and every import per run
    (about a second each). What must be a separate process (running from another directory, Ctrl-C, xdist) uses
    `pytester.runpytest_subprocess` or `subprocess` itself."""
    return pytester.runpytest_inprocess(str(PACKAGE_DIR), "-p", "no:cacheprovider", "-q", *args)
