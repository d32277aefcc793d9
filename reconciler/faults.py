"""Fault injection at the edges, for the crash, disk-full and refused-call tests (never set in production).

Everything here is read once from the environment when the module is imported; with none of the
variables set every hook is a single ``is None`` test.

``IPAM_FAULT_KILL_AFTER=k`` with ``IPAM_FAULT_KILL_POINT=POINT`` (default ``after-call``)
    The process sends itself SIGKILL -- a real kill: no exception, no ``finally``, no atexit --
    the k-th time it passes POINT. The points, counted per process over apply *and* recovery:

    ``before-call``         the call's intent is on disk (fsynced); the call is not made yet
    ``after-call``          the cloud carried the call out and answered; its result is NOT journaled
    ``after-record``        the result is written to the journal (page cache; fsynced later)
    ``snapshot-replaced``   a snapshot write replaced ``state.json``; the journal is not yet cleared
                            (postgres: the new version is inserted, the journal not cleared, the
                            database transaction not committed)
``IPAM_FAULT_PAUSE_AFTER=k``, ``IPAM_FAULT_PAUSE_POINT=POINT`` (default ``after-call``), ``IPAM_FAULT_PAUSE_FILE=F``
    The k-th time the process passes POINT (counted as for the kill) it creates F and waits until
    F is removed: a test does something at that exact moment (stops the database server, kills
    the process from outside, runs another command) and then lets it go on.
``IPAM_FAULT_FAIL_CALL=API[@n][+][:lost]``
    The n-th call (default the first) of the cloud API ``API`` (e.g. ``CreateVSwitch``) -- and with
    ``+`` every later one too, retries included -- is refused with ``Fault.Injected`` (HTTP 400)
    before it reaches the cloud, as a cloud refusal is. With ``:lost`` the call IS carried out and
    its answer lost instead: ``ServiceUnavailable`` (HTTP 503), as after a timeout.
``IPAM_FAULT_DISK_BYTES=N``
    Writes into the state directory (snapshot, backup copy, journal) fail with ENOSPC once this
    process has written N bytes there; the write that crosses the limit writes what fits first,
    as a full disk does.
``IPAM_FAULT_SYNC_LOG=FILE``
    After every fsync of the journal (and when a snapshot write replaces or removes it) the size
    of the journal that is now durable is appended to FILE: a test cuts the journal back to it to
    see what a power cut at that moment would have left.
``IPAM_FAULT_BOOT_ID=ID``
    Pretend the machine's boot id is ID (a different one than the journal's intents carry is
    what recovery sees after a reboot).
"""

from __future__ import annotations

import errno
import os
import signal
import time
from typing import Mapping

from reconciler.errors import CloudError


def _int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else None


KILL_AFTER = _int("IPAM_FAULT_KILL_AFTER")
KILL_POINT = os.environ.get("IPAM_FAULT_KILL_POINT") or "after-call"
POINTS = ("before-call", "after-call", "after-record", "snapshot-replaced")
if KILL_AFTER is not None and KILL_POINT not in POINTS:
    raise SystemExit(f"IPAM_FAULT_KILL_POINT={KILL_POINT!r} is not one of {', '.join(POINTS)}")
_FAIL = os.environ.get("IPAM_FAULT_FAIL_CALL") or None
_fail_spec, _, _fail_how = (_FAIL or "").partition(":")
FAIL_API, _, _fail_n = _fail_spec.partition("@")
FAIL_ON = _fail_n.endswith("+")
FAIL_NTH = int(_fail_n.rstrip("+") or 1)
FAIL_LOST = _fail_how == "lost"
DISK_BYTES = _int("IPAM_FAULT_DISK_BYTES")
SYNC_LOG = os.environ.get("IPAM_FAULT_SYNC_LOG") or None
BOOT_ID = os.environ.get("IPAM_FAULT_BOOT_ID") or None
PAUSE_AFTER = _int("IPAM_FAULT_PAUSE_AFTER")
PAUSE_POINT = os.environ.get("IPAM_FAULT_PAUSE_POINT") or "after-call"
PAUSE_FILE = os.environ.get("IPAM_FAULT_PAUSE_FILE") or None
if PAUSE_AFTER is not None and (PAUSE_POINT not in POINTS or not PAUSE_FILE):
    raise SystemExit(f"IPAM_FAULT_PAUSE_AFTER needs IPAM_FAULT_PAUSE_FILE, and IPAM_FAULT_PAUSE_POINT one of "
                     f"{', '.join(POINTS)}")
_PAUSE_LIMIT = 600.0  # seconds: a test that never lets go does not leave the process behind forever

_passed: dict[str, int] = {}
_calls: dict[str, int] = {}
_written = 0


def point(name: str) -> None:
    """Mark that this process passed ``name``; SIGKILL it (or pause) when that is the configured k-th time."""
    if KILL_AFTER is None and PAUSE_AFTER is None:
        return
    passed = _passed[name] = _passed.get(name, 0) + 1
    if name == PAUSE_POINT and passed == PAUSE_AFTER:
        _pause()
    if name == KILL_POINT and passed == KILL_AFTER:
        os.kill(os.getpid(), signal.SIGKILL)


def _pause() -> None:
    """Create the pause file, then wait until the test removes it."""
    assert PAUSE_FILE is not None
    with open(PAUSE_FILE, "w") as marker:
        marker.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + _PAUSE_LIMIT
    while os.path.exists(PAUSE_FILE) and time.monotonic() < deadline:
        time.sleep(0.01)


def synced(size: int) -> None:
    """The journal is durable up to ``size`` bytes (0: there is none)."""
    if SYNC_LOG is not None:
        with open(SYNC_LOG, "a") as log:
            log.write(f"{size}\n")


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written -- or, past the injected budget, ENOSPC."""
    global _written
    view = memoryview(data)
    if DISK_BYTES is not None:
        room = max(0, DISK_BYTES - _written)
        if len(view) > room:
            if room:
                _written += _write(fd, view[:room])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + " (injected: IPAM_FAULT_DISK_BYTES)")
        _written += len(view)
    _write(fd, view)


def _write(fd: int, view: memoryview) -> int:
    total = len(view)
    while view:
        view = view[os.write(fd, view):]
    return total


class FaultyClient:
    """Wraps an API client: refuses the configured call (``IPAM_FAULT_FAIL_CALL``) like the cloud."""

    def __init__(self, client):
        self.client = client

    def call(self, action: str, params: Mapping[str, object]) -> dict:
        if action == FAIL_API:
            _calls[action] = _calls.get(action, 0) + 1
            n = _calls[action]
            if n == FAIL_NTH or FAIL_ON and n > FAIL_NTH:
                if FAIL_LOST:
                    self.client.call(action, params)
                    raise CloudError("ServiceUnavailable", f"the answer to {action} was lost (IPAM_FAULT_FAIL_CALL="
                                     f"{_FAIL})", http_status=503)
                raise CloudError("Fault.Injected", f"{action} refused by IPAM_FAULT_FAIL_CALL={_FAIL}", http_status=400)
        return self.client.call(action, params)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close:
            close()

    def __getattr__(self, name: str):
        return getattr(self.client, name)


def wrap_provider(provider):
    """``provider`` with its client wrapped when a refused call is configured (else unchanged)."""
    if FAIL_API:
        provider.client = FaultyClient(provider.client)
    return provider
