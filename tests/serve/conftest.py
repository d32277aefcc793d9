"""Fixtures of the served sandbox's tests: a server in this process with a call log. The helpers
(served(), the raw signers, the SDK clients) are in tests/support/served.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.served import Served, served


@pytest.fixture
def srv(tmp_path) -> Iterator[Served]:
    """The sandbox tmp_path/sandbox.db served with the default options, logging to tmp_path/calls.log."""
    with served(tmp_path / "sandbox.db", log=tmp_path / "calls.log") as s:
        yield s
