"""On a terminal: colour, and apply's confirmation prompt (run under a real pseudo-terminal)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from tests.conftest import REPO
from tests.support.specs import BASE


def _on_tty(ws, *args, answer: bytes | None = None, colour: bool = True) -> tuple[int, str]:
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm"}
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
