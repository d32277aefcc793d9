"""On a terminal: colour, apply's confirmation prompt and the progress bar (run under a real pseudo-terminal)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time

from reconciler.cli.progress import Progress
from tests.conftest import REPO
from tests.support.specs import BASE


def _on_tty(ws, *args, answer: bytes | None = None, colour: bool = True, env: dict | None = None) -> tuple[int, str]:
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm", **(env or {})}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(ws.root), *args], stdin=slave,
                            stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""
    sent = False
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if answer is not None and not sent and b"Only 'yes' will be accepted" in out:
            os.write(master, answer)
            sent = True
    os.close(master)
    return proc.wait(timeout=60), out.decode(errors="replace")


def test_plan_is_coloured_on_a_terminal_and_plain_otherwise(ws):
    ws.write("main.yaml", BASE)
    code, out = _on_tty(ws, "plan")
    assert code == 0 and "\x1b[32m" in out  # green for what is added
    code, out = _on_tty(ws, "--no-color", "plan")
    assert code == 0 and "\x1b[" not in out
    assert "\x1b[" not in ws.run("plan", check=0).stdout


def test_apply_asks_and_only_yes_applies(ws):
    ws.write("main.yaml", BASE)
    code, out = _on_tty(ws, "apply", answer=b"no\n")
    assert code == 1 and "Apply cancelled" in out
    assert ws.json("show")["resources"] == {}
    code, out = _on_tty(ws, "apply", answer=b"yes\n")
    assert code == 0 and "Apply complete" in out
    assert "vpc.prod" in ws.json("show")["resources"]


NOW = {"IPAM_PROGRESS_DELAY": "0"}  # show the bar at once instead of after a second


def _screen(out: str) -> list[str]:
    """The lines a terminal shows for ``out``: a carriage return goes back to the start of the line,
    later characters overwrite earlier ones."""
    shown = []
    for raw in out.split("\n"):
        cells: list[str] = []
        col = 0
        for ch in raw:
            if ch == "\r":
                col = 0
                continue
            if col < len(cells):
                cells[col] = ch
            else:
                cells.append(ch)
            col += 1
        shown.append("".join(cells).rstrip())
    return shown


def test_apply_and_plan_show_a_progress_bar_on_a_terminal_and_wipe_it(ws):
    ws.write("main.yaml", BASE)
    code, out = _on_tty(ws, "--no-color", "plan", env=NOW)
    assert code == 0 and "Planning [" in out and "resolve" in out
    assert "\x1b[" not in out  # drawn with carriage returns and spaces only
    screen = _screen(out)
    assert not any("Planning [" in line for line in screen)  # wiped before the plan is printed
    assert any(line.startswith("Plan: ") for line in screen)

    code, out = _on_tty(ws, "--no-color", "apply", "--auto-approve", env=NOW)
    assert code == 0 and "Applying [" in out and "Planning [" in out
    screen = _screen(out)
    assert not any("Applying [" in line or "Planning [" in line for line in screen)
    assert "vpc.prod: create 10.0.0.0/20 (CreateVpc) done" in screen  # each action's line intact
    assert any(line.startswith("Apply complete: ") for line in screen)


def test_no_progress_bar_in_json_or_piped_output(ws, monkeypatch):
    ws.write("main.yaml", BASE)
    code, out = _on_tty(ws, "plan", "--json", env=NOW)
    assert code == 0 and "Planning [" not in out
    assert json.loads(out)["format_version"]  # nothing but the document
    code, out = _on_tty(ws, "apply", "--auto-approve", "--json", env=NOW)
    assert code == 0 and "Applying [" not in out and "Planning [" not in out
    assert len(json.loads(out)["applied"]) == 9  # nothing but the document
    monkeypatch.setenv("IPAM_PROGRESS_DELAY", "0")
    ws.write("more.yaml", "vpcs:\n  test: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n")
    for args in (("plan",), ("apply", "--auto-approve")):
        proc = ws.run(*args, check=0)
        assert "Planning" not in proc.stdout + proc.stderr and "Applying" not in proc.stdout + proc.stderr
    assert "vpc.test" in ws.json("show")["resources"]


def test_the_bar_waits_a_second_before_it_appears(monkeypatch):
    monkeypatch.delenv("IPAM_PROGRESS_DELAY", raising=False)
    master, slave = pty.openpty()
    try:
        with open(slave, "w", closefd=False) as terminal:
            bar = Progress("Applying", 10, stream=terminal, out=terminal)
            bar.update(5, "vpc.prod")
            assert not bar.shown  # a run shorter than a second never shows it
            bar.start -= 1.5  # as if it had run for 1.5 s
            bar.update(6, "vpc.test")
            assert bar.shown
            bar.close()
        time.sleep(0.05)
        drawn = os.read(master, 65536).decode()
        assert "Applying [##################------------]  60% 6/10 vpc.test" in drawn and "5/10" not in drawn
        assert drawn.endswith("\r" + " " * len("Applying [##################------------]  60% 6/10 vpc.test") + "\r")
    finally:
        os.close(master)
        os.close(slave)
