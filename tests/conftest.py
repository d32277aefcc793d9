"""Shared fixtures: workspaces on disk and the real CLI run as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "specs"


class Workspace:
    """A workspace folder with spec files, driven through the real `ipamctl` process."""

    def __init__(self, root: Path):
        self.root = root
        (root / "specs").mkdir(parents=True, exist_ok=True)

    def write(self, name: str, text: str) -> Path:
        path = self.root / "specs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def remove(self, name: str) -> None:
        (self.root / "specs" / name).unlink()

    def run(self, *args: str, input: str | None = None, check: int | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
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


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def example(tmp_path) -> Workspace:
    w = Workspace(tmp_path / "example")
    shutil.rmtree(w.root / "specs")
    shutil.copytree(EXAMPLE, w.root / "specs")
    return w
