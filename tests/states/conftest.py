"""Fixtures of the state tests: a real PostgreSQL server (tests/support/postgres.py) and backends on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from reconciler.states.postgres import PostgresStateBackend
from tests.support.postgres import pg_conninfo, pg_server  # noqa: F401  (fixtures, found here by pytest)


@pytest.fixture
def pg_backends(pg_conninfo: str) -> Iterator[Callable[..., PostgresStateBackend]]:  # noqa: F811
    """Make PostgresStateBackends on this test's fresh database (``make(workspace="prod", schema=...)``);
    every one is closed at the end."""
    made: list[PostgresStateBackend] = []

    def make(workspace: str = "prod", schema: str = "ipamctl", conninfo: str | None = None) -> PostgresStateBackend:
        backend = PostgresStateBackend(conninfo or pg_conninfo, workspace, schema)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def pg_backend(pg_backends: Callable[..., PostgresStateBackend]) -> PostgresStateBackend:
    return pg_backends()
