"""Running a test both ways: the embedded sandbox (``provider: sandbox``), and the same sandbox served
over HTTP with ``provider: {type: alibaba}``, so every call goes through the official SDK clients,
signing, the wire protocol and the server.

Tests opt in with ``@pytest.mark.both_providers`` (a module's ``pytestmark`` or a test's mark): the
``provider_via`` fixture is then parametrized ``embedded`` / ``served``, and the ``ws`` and
``example`` workspaces of tests/conftest.py are served accordingly. :func:`serving` is the same for
tests that make their own workspace folders (the crash tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.served import KEY, Served, served

VIAS = ("embedded", "served")
PROVIDER_FILE = "zz-provider.yaml"


def provider_yaml(s: Served) -> str:
    return (f"provider:\n  type: alibaba\n  region: cn-hangzhou\n  endpoint: {s.endpoint}\n  protocol: http\n"
            "  wait_timeout: 60\n")


def credentials() -> dict[str, str]:
    """What the SDK's default credential chain reads first (the environment)."""
    return {"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY.id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY.secret}


@contextmanager
def serving(root: Path, **options) -> Iterator[tuple[Served, dict[str, str]]]:
    """``root``'s sandbox database served for the length of the block, and ``specs/zz-provider.yaml``
    pointing the workspace at it; yields the server and the environment ``ipamctl`` needs."""
    (root / "state").mkdir(parents=True, exist_ok=True)
    (root / "specs").mkdir(parents=True, exist_ok=True)
    with served(root / "state" / "sandbox.db", **options) as s:
        (root / "specs" / PROVIDER_FILE).write_text(provider_yaml(s))
        yield s, credentials()
