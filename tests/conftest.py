"""Fixtures shared by the project's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeserver import FakeConfig, FakeServer


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    """A default OpenAI-like fake server over a real socket, for one test."""
    with FakeServer(FakeConfig()) as srv:
        yield srv
