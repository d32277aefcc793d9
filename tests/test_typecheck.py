"""The type check: mypy over the whole package with the project's configuration (pyproject.toml:
strict on the pure core, mypy's defaults on the edges) finds no error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_error():
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--config-file", "pyproject.toml"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert "Success: no issues found" in proc.stdout, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0
