"""Shared fixtures: workspaces on disk and the real CLI run as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.via import VIAS, serving

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "specs"


class Workspace:
    """A workspace folder with spec files, driven through the real `ipamctl` process."""

    def __init__(self, root: Path, env: dict[str, str] | None = None):
        self.root = root
        self.env = dict(env or {})  # added to every run (the served provider's credentials)
        (root / "specs").mkdir(parents=True, exist_ok=True)

    def write(self, name: str, text: str) -> Path:
        path = self.root / "specs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def remove(self, name: str) -> None:
        (self.root / "specs" / name).unlink()

    def run(self, *args: str, input: str | None = None, check: int | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **self.env}
        proc = subprocess.run([sys.executable, "-m", "reconciler", "-C", str(self.root), *args],
                              capture_output=True, text=True, input=input, env=env, timeout=120)
        if check is not None:
            assert proc.returncode == check, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        return proc

    def json(self, *args: str, check: int | None = 0) -> dict:
        proc = self.run(*args, "--json", check=check)
        return json.loads(proc.stdout)

    def sandbox(self, action: str, **params) -> tuple[int, dict]:
        proc = self.run("sandbox", "call", action, *[f"{k}={v}" for k, v in params.items()])
        return proc.returncode, json.loads(proc.stdout)


def pytest_generate_tests(metafunc):
    """``@pytest.mark.both_providers``: the test runs embedded and served (tests/support/via.py)."""
    if "provider_via" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_providers"):
        metafunc.parametrize("provider_via", VIAS, indirect=True)


@pytest.fixture
def provider_via(request) -> str:
    return getattr(request, "param", "embedded")


def _workspace(root: Path, via: str, stack: ExitStack) -> Workspace:
    if via == "embedded":
        return Workspace(root)
    _server, env = stack.enter_context(serving(root))
    return Workspace(root, env)


@pytest.fixture
def ws(tmp_path, provider_via) -> Iterator[Workspace]:
    with ExitStack() as stack:
        yield _workspace(tmp_path / "ws", provider_via, stack)


@pytest.fixture
def example(tmp_path, provider_via) -> Iterator[Workspace]:
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root / "specs")
    with ExitStack() as stack:
        yield _workspace(root, provider_via, stack)
