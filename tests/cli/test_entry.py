"""The process entry point (reconciler/cli/entry.py): a quick exit that loses nothing.

Each test runs a real process. Every one would fail if the quick exit skipped the thing it names:
flushing a large block-buffered output into a pipe, the atexit handlers, a thread still running,
an exit that is not a plain code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from reconciler.cli.main import main

from tests.conftest import REPO


def _env() -> dict:
    # buffered as a user's process is (a CI runner may set PYTHONUNBUFFERED, which would hide a lost flush)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return {**env, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          env=_env(), timeout=120)


def test_a_large_plan_reaches_a_pipe_whole_with_its_exit_code(example):
    # stdout into a pipe is block-buffered: leaving without a flush would cut the plan short
    proc = subprocess.run([sys.executable, "-m", "reconciler", "-C", str(example.root), "plan", "--detailed-exitcode"],
                          capture_output=True, text=True, env=_env(), timeout=120)
    in_process = CliRunner().invoke(main, ["-C", str(example.root), "plan", "--detailed-exitcode"])
    assert proc.returncode == in_process.exit_code == 2
    assert len(proc.stdout) > 8192
    assert proc.stdout == in_process.output
    assert proc.stdout.rstrip().splitlines()[-1].startswith("Plan:")


def test_the_console_script_and_module_run_the_same_entry():
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["ipamctl"] == "reconciler.cli.entry:run"
    assert "from reconciler.cli.entry import run" in (REPO / "reconciler" / "__main__.py").read_text()


def test_atexit_handlers_run_before_the_process_ends():
    proc = _python("""
        import atexit, sys
        atexit.register(lambda: print("handler ran"))  # left in the buffer: the exit flushes it
        sys.argv = ["ipamctl", "--version"]
        from reconciler.cli.entry import run
        run()
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "handler ran"
    assert proc.stdout.startswith("ipamctl, version ")


def test_a_running_thread_is_waited_for():
    proc = _python("""
        import sys, threading, time
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished", flush=True))).start()
        sys.argv = ["ipamctl", "--version"]
        from reconciler.cli.entry import run
        run()
    """)
    assert proc.returncode == 0, proc.stderr
    assert "thread finished" in proc.stdout


def test_an_exit_with_a_message_leaves_the_normal_way():
    # sys.exit("text"): Python prints the text to stderr and exits 1; os._exit would take neither
    proc = _python("""
        import sys
        import reconciler.cli.entry as entry
        def failing(**kwargs):
            sys.exit("stopped: no workspace")
        entry.main = failing
        entry.run()
    """)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "stopped: no workspace"


def test_the_collector_stays_off_to_the_end_of_a_plan(example):
    # cli.main turns the collector back on as a command ends; in the process, with the whole plan still
    # young, that would cost one pass over every object (0.17-0.25 s at 100k resources)
    proc = _python("""
        import gc, sys
        from reconciler.cli.entry import run
        passes = []
        gc.callbacks.append(lambda phase, info: passes.append(info["generation"]) if phase == "start" else None)
        import atexit
        atexit.register(lambda: print("collector passes:", passes, "enabled:", gc.isenabled()))
        sys.argv = ["ipamctl", "-C", sys.argv[1], "plan"]
        run()
    """, str(example.root))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "collector passes: [] enabled: False"
