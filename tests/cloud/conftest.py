"""Fixtures of the sandbox cloud's tests: a sandbox on a real SQLite file, and a network for ENIs.
Plain helpers (refused, make_net, new_eni...) are in tests/support/sandbox.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# before the import below, so refused()'s asserts explain themselves as they did in each test file
pytest.register_assert_rewrite("tests.support.sandbox")

from reconciler.cloud.sandbox import SandboxCloud  # noqa: E402
from tests.support.sandbox import Net, make_net  # noqa: E402


@pytest.fixture
def cloud(tmp_path) -> Iterator[SandboxCloud]:
    with SandboxCloud(tmp_path / "cloud.db") as c:
        yield c


@pytest.fixture
def net(cloud: SandboxCloud) -> Net:
    """A VPC 10.0.0.0/16 with IPv6, a vSwitch 10.0.0.0/24 (IPv6 index 0) in cn-hangzhou-h and a
    basic security group (test_sandbox_vpc and test_sandbox_ecs_prefix have their own ``net``)."""
    return make_net(cloud)
