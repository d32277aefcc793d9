"""Running a test both ways: the embedded sandbox (``provider: sandbox``), and the same sandbox served
over HTTP with ``provider: {type: alibaba}``, so every call goes through the official SDK clients,
signing, the wire protocol and the server.

Tests opt in with ``@pytest.mark.both_providers`` (a module's ``pytestmark`` or a test's mark): the
``provider_via`` fixture is then parametrized ``embedded`` / ``served``, and the ``ws`` and
``example`` workspaces of tests/conftest.py are served accordingly. :func:`serving` is the same for
tests that make their own workspace folders (the crash tests).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.served import KEY, Served, served

REPO = Path(__file__).resolve().parents[2]
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


@contextmanager
def serve_process(root: Path, env: Mapping[str, str]) -> Iterator[int]:
    """``ipamctl -C ROOT sandbox serve --port 0`` as a process of its own for the length of the block
    (``env`` added to the environment); yields its port. Stopped with SIGTERM afterwards, it must
    exit 0 without a traceback."""
    port_file = root.parent / f"{root.name}.port"
    server = subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(root), "sandbox", "serve", "--port", "0",
                               "--port-file", str(port_file)], env={**os.environ, "PYTHONPATH": str(REPO), **env},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            if port_file.exists() or server.poll() is not None:
                break
            time.sleep(0.05)
        yield int(port_file.read_text())
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "Traceback" not in err
