"""The Terraform-ecosystem tools the plan document is tested against, each installed apart from the
project (``.ci/terraform-tools`` makes them: a virtualenv each for checkov and terraform-compliance,
an npm folder for terraform-unidiff), found through an environment variable naming the executable,
else in the folder that script installs into by default.

None found: the test is skipped with the reason -- except in CI (``CI=true``), where it fails: CI must
run them (.ci/run installs them), as tests/support/postgres.py does for PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

DEFAULT_DIR = Path("/opt/ipamctl-tools")  # .ci/terraform-tools' default folder
# variable -> (the tool, its executable under DEFAULT_DIR)
TOOLS = {
    "IPAMCTL_CHECKOV": ("checkov 3.3.30", "checkov/bin/checkov"),
    "IPAMCTL_TF_COMPLIANCE": ("terraform-compliance 1.16.0", "terraform-compliance/bin/terraform-compliance"),
    "IPAMCTL_UNIDIFF": ("@ahmadnassri/terraform-unidiff 4.0.5", "unidiff/node_modules/.bin/terraform-unidiff"),
}


def find_tool(variable: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The executable ``variable`` names (it must be one), else the default install's, else None."""
    given = environ.get(variable)
    candidate = Path(given) if given else DEFAULT_DIR / TOOLS[variable][1]
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def require_tool(variable: str, environ: Mapping[str, str] = os.environ) -> str:
    """The tool's executable; else skip (outside CI) or fail (in CI) the test with the reason."""
    found = find_tool(variable, environ)
    if found:
        return found
    name, default = TOOLS[variable]
    given = environ.get(variable)
    where = (f"{variable}={given} is not an executable" if given
             else f"{variable} is not set and {DEFAULT_DIR / default} is missing")
    reason = (f"{name} was not found ({where}). Install the tools with `bash .ci/terraform-tools [DIR]` and "
              "export the variables it prints.")
    if environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(reason + " CI must run these tests (.ci/run installs the tools).", pytrace=False)
    pytest.skip(reason + " Skipped outside CI (CI=true makes them fail).")
