"""The pipeline examples of docs/gitops.md: schema-valid workflow files (check-jsonschema's own copies of
the GitHub Actions and GitLab CI schemas), and every `ipamctl` command they run exists with those flags."""

from __future__ import annotations

import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import click
import pytest
import yaml

from reconciler.cli.main import main

CI = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ci"
EXAMPLES = {"github-actions.yml": "vendor.github-workflows", "gitlab-ci.yml": "vendor.gitlab-ci"}


def _scripts(node) -> list[str]:
    """Every shell script in a workflow: `run:` values (GitHub) and `script` / `before_script` lines (GitLab)."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                out.append(value)
            elif key in ("script", "before_script") and isinstance(value, list):
                out += [v for v in value if isinstance(v, str)]
            else:
                out += _scripts(value)
    elif isinstance(node, list):
        for v in node:
            out += _scripts(v)
    return out


def ipamctl_commands(text: str) -> list[list[str]]:
    """The argument lists of the `ipamctl` commands in a workflow file's scripts."""
    found = []
    for script in _scripts(yaml.safe_load(text)):
        for line in script.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for i, w in enumerate(words):
                if w == "ipamctl":
                    args = []
                    for a in words[i + 1:]:
                        if a in (">", "|", "&&", "||", ";") or a.startswith(">"):
                            break
                        args.append(a)
                    found.append(args)
    return found


def parse(args: list[str]) -> None:
    """Parse ``args`` as the CLI would, without running anything; click.UsageError when they do not fit."""
    def left(ctx: click.Context) -> list[str]:
        with warnings.catch_warnings():  # (click 8.2 deprecates protected_args; 8.1 has nothing else)
            warnings.simplefilter("ignore", DeprecationWarning)
            return [*ctx.protected_args, *ctx.args]

    ctx = main.make_context("ipamctl", list(args))
    command: click.Command = main
    rest = left(ctx)
    while isinstance(command, click.Group) and rest:
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None, name
        ctx = sub.make_context(name or "", list(rest), parent=ctx)
        command, rest = sub, left(ctx) if isinstance(sub, click.Group) else []


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_workflow_is_schema_valid(name):
    got = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", EXAMPLES[name],
                          str(CI / name)], capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stdout + got.stderr


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_commands_it_runs_exist_with_those_flags(name):
    commands = ipamctl_commands((CI / name).read_text())
    assert {c[0] for c in commands} >= {"fmt", "validate", "plan", "show", "apply", "report", "drift"}
    for args in commands:
        parse(args)  # raises click's usage error on an unknown command or flag
    assert ["plan", "--out", "plan.tfplan", "--markdown", "--reservation-ttl", "604800"] in commands
    assert ["drift", "--detailed-exitcode"] in commands and ["apply", "plan.tfplan", "--lock-timeout", "600"] in commands


def test_the_checker_catches_a_wrong_flag():
    with pytest.raises(click.UsageError):
        parse(["plan", "--no-such-flag"])
    with pytest.raises(click.UsageError):
        parse(["drift", "--detailed-exit-code"])
