"""The ``ipamctl`` process: run the CLI, then end the process without tearing down its objects.

A 100,000-resource plan holds about 500 MB of small objects (the specs, the recorded state, the
plan). Left to the interpreter, the end of the process frees them one by one: 0.15-0.25 s of a
2.5 s plan (docs/performance.md), spent on memory the operating system takes back at once. So once
a command has finished and asked to exit, this runs the atexit handlers, flushes standard output
and error, and leaves with ``os._exit``.

It leaves the normal way (the interpreter's own shutdown) whenever that could lose something: an
exit that is not a plain code, another thread still running, or output that cannot be flushed (a
closed pipe: Python's own shutdown reports it as usual). Commands close what they open (``with``
blocks; the journal writes raw file descriptors), so nothing is left buffered in a Python object.
Tests that call :func:`reconciler.cli.main` in process (click's ``CliRunner``) never come here.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

from .cli import main


def run() -> None:
    """The console script ``ipamctl`` and ``python -m reconciler``."""
    try:
        main(prog_name="ipamctl")
    except SystemExit as exc:
        # ``exc`` holds the command's frames, so nothing is freed before the process ends
        code = exc.code
        if (code is not None and not isinstance(code, int)) or threading.active_count() > 1:
            raise
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            raise exc from None
        os._exit(code or 0)
