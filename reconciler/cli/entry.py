"""The ``ipamctl`` process: run the CLI, then end the process without tearing down its objects.

A large plan holds hundreds of megabytes of small objects (the specs, the recorded state, the
plan), none of which the process needs once the command has written its output. Two costs at the
end are spent on them for nothing, and this module avoids both:

* the cyclic collector: :func:`reconciler.cli.main.main` turns it off while a command runs and back on
  when the command ends (for callers in process, which go on running); turned back on with every
  object of the plan still in the youngest generation, the next allocation traces them all
  (docs/performance.md). This process keeps it off from the start.
* the interpreter's shutdown frees the objects one by one. Once a command has asked
  to exit, this runs the atexit handlers, flushes standard output and error, and leaves with
  ``os._exit``.

It leaves the normal way (the interpreter's own shutdown) whenever that could lose something: an
exit that is not a plain code, another thread still running, or output that cannot be flushed (a
closed pipe: Python's own shutdown reports it as usual). Commands close what they open (``with``
blocks; the journal writes raw file descriptors), so nothing is left buffered in a Python object.
Tests that call :func:`reconciler.cli.main.main` in process (click's ``CliRunner``) never come here.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading

from reconciler.cli import memo


def main(**kwargs: object) -> None:
    """The CLI (:func:`reconciler.cli.main.main`), imported only when the memo does not answer."""
    from reconciler.cli.main import main as cli

    cli(**kwargs)


def run() -> None:
    """The console script ``ipamctl`` and ``python -m reconciler``."""
    # a no-change plan kept in the memo is printed before any of the planner's modules is imported
    answered = memo.answer(sys.argv[1:])
    if answered is not None:
        os._exit(answered)  # (written and flushed by answer)
    # The collector off for the whole process (main() turns it off for a command and back on when the
    # command ends, for callers in process that go on running): turned back on with every object of a plan
    # still young, the next allocation would trace them all at the end.
    gc.disable()
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
