"""The workspace lock: one writer at a time, and a clear report of who holds it.

The lock is the file ``state/.lock`` holding a :class:`LockInfo` as JSON, plus an exclusive
``fcntl.flock`` on that file kept for as long as the lock is held. The file says *who*; the
flock says whether that holder is still *alive* (the kernel drops it when the process dies).

* Acquire creates the file exclusively. So that nobody ever sees a half-written lock, the
  content is written to a unique temp file (opened ``O_CREAT|O_EXCL``) and flocked first, then
  hard-linked to ``.lock``; ``link`` fails with ``EEXIST`` exactly like ``O_EXCL`` would.
* Busy (file present, flock held): wait up to ``timeout`` seconds, then ``State.Locked``.
* Stale (file present, nobody holds its flock): never taken silently -- ``State.LockStale``
  naming the holder and the ``ipamctl force-unlock <ID>`` command to run once the user has
  checked that the holder is really gone.
* Garbage content (not a LockInfo): a LockInfo with holder fields set to ``"unknown"`` (pid 0) and
  the id :data:`UNKNOWN_LOCK_ID` (``"unknown"``), reported saying that the file is
  unreadable, and how to remove it (``force-unlock unknown`` takes it, or ``rm``), under the
  code a lock in its liveness gets (``State.LockStale``, or ``State.Locked`` while a process
  holds it). A real lock never has that id, so it cannot remove one by mistake.
* Liveness cannot be told when flock is not supported by the filesystem; then the lock is
  treated as busy (never stale), and ``force_unlock`` removes it on the user's word.
"""

from __future__ import annotations

import errno
import fcntl
import getpass
import os
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import orjson

from reconciler.errors import StateError

UNKNOWN_LOCK_ID = "unknown"
_POLL = 0.1
_FLOCK_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS}


@dataclass(frozen=True)
class LockInfo:
    id: str
    pid: int
    host: str
    user: str
    command: str
    created: str  # ISO 8601 UTC, e.g. 2024-05-01T12:00:00Z
    path: str  # the lock file

    @property
    def holder(self) -> str:
        return f"{self.user} (pid {self.pid}@{self.host})"

    def to_json_bytes(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)

    @staticmethod
    def parse(data: bytes, path: str) -> "LockInfo":
        """The LockInfo in ``data``; an "unknown" LockInfo when the content is not one."""
        try:
            doc = orjson.loads(data)
            info = LockInfo(**{k: doc[k] for k in ("id", "pid", "host", "user", "command", "created")}, path=path)
            fields = (info.id, info.host, info.user, info.created)
            if type(info.pid) is int and isinstance(info.command, str) and all(isinstance(v, str) and v for v in fields):
                return info
        except (orjson.JSONDecodeError, TypeError, KeyError):
            pass
        return LockInfo(UNKNOWN_LOCK_ID, 0, "unknown", "unknown", "unknown", "unknown", path)


@dataclass(frozen=True)
class LockStatus:
    info: LockInfo
    live: bool | None  # True: a process holds it; False: nobody does (stale); None: cannot tell


def now_text() -> str:
    """The time a lock is taken, as its record shows it (UTC, seconds)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def login_user() -> str:
    """Who takes a lock (the login name, else the uid)."""
    try:
        return getpass.getuser()
    except Exception:  # no login name and no passwd entry (containers)
        return f"uid {os.getuid()}"


def _same_file(path: Path, fd: int) -> bool:
    try:
        st, mine = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _locked(info: LockInfo, waited: float) -> StateError:
    if info.id == UNKNOWN_LOCK_ID:
        return _unreadable(info, True)
    wait = f" (waited {waited:g}s)" if waited else ""
    return StateError(
        "State.Locked",
        f"the state is locked{wait}: lock ID {info.id}, held by {info.holder} running {info.command!r} "
        f"since {info.created}. Wait for it to finish (or pass a lock timeout). If that process is gone "
        f"and left the lock behind, `ipamctl force-unlock {info.id}` removes it.",
    )


def _unreadable(info: LockInfo, live: bool | None) -> StateError:
    """A lock file that holds no lock record (empty, cut short or overwritten): nobody can say who took it."""
    held = ("a process still holds it open, so wait for that process to end; if none is running, " if live else
            "and no process holds it. ")
    return StateError(
        "State.Locked" if live else "State.LockStale",
        f"the lock file {info.path} is unreadable: it holds no lock record (it is empty or damaged, e.g. "
        f"by a crash or a full disk while it was written), so who took it cannot be told; {held}"
        f"Check that no ipamctl command is running on this workspace, then remove the file with "
        f"`ipamctl force-unlock {UNKNOWN_LOCK_ID}` (that id stands for an unreadable lock file) or `rm {info.path}`, "
        "and check the state with `ipamctl plan`.",
    )


def _stale(info: LockInfo) -> StateError:
    if info.id == UNKNOWN_LOCK_ID:
        return _unreadable(info, False)
    return StateError(
        "State.LockStale",
        f"the state lock {info.path} was left behind: lock ID {info.id}, taken by {info.holder} "
        f"running {info.command!r} at {info.created}, and no process holds it any more. That run "
        "may have been cut short, so check the state (`ipamctl plan`) after removing the lock with "
        f"`ipamctl force-unlock {info.id}`.",
    )


class WorkspaceLock:
    """The lock file at ``path``. One instance holds at most one lock at a time."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None
        self._info: LockInfo | None = None

    @property
    def held(self) -> LockInfo | None:
        return self._info

    def acquire(self, command: str, timeout: float = 0.0) -> LockInfo:
        start = time.monotonic()
        while True:
            info = self._try_create(command)
            if info is not None:
                return info
            status = self.status()
            if status is None:
                continue  # released between our attempt and our look: try again
            if status.live is False:
                raise _stale(status.info)
            waited = time.monotonic() - start
            if waited >= timeout:
                raise _locked(status.info, round(waited, 1) if timeout else 0)
            time.sleep(min(_POLL, timeout - waited))

    def _try_create(self, command: str) -> LockInfo | None:
        if self._info is not None:
            raise StateError("State.Locked", f"this process already holds {self.path} (lock ID {self._info.id})")
        info = LockInfo(str(uuid.uuid4()), os.getpid(), socket.gethostname(), login_user(), command, now_text(),
                        str(self.path.absolute()))
        tmp = self.path.with_name(f"{self.path.name}.{info.id}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateError("State.LockFailed", f"cannot create the lock {self.path}: {exc}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:  # no flock on this filesystem: the lock works, liveness is unknown
                if exc.errno not in _FLOCK_UNSUPPORTED:
                    raise
            view = memoryview(info.to_json_bytes())
            while view:
                view = view[os.write(fd, view) :]
            os.link(tmp, self.path)
        except FileExistsError:
            os.close(fd)
            return None
        except OSError as exc:
            os.close(fd)
            raise StateError("State.LockFailed", f"cannot create the lock {self.path}: {exc}") from exc
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        self._fd, self._info = fd, info
        return info

    def release(self) -> None:
        """Remove the lock file (if it is still ours) and drop the flock."""
        fd, self._fd, self._info = self._fd, None, None
        if fd is None:
            return
        try:
            if _same_file(self.path, fd):
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)

    @contextmanager
    def hold(self, command: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        info = self.acquire(command, timeout)
        try:
            yield info
        finally:
            self.release()

    def status(self) -> LockStatus | None:
        """Who holds the lock and whether they are alive; None when there is no lock."""
        with self._opened() as opened:
            return None if opened is None else opened[1]

    @contextmanager
    def _opened(self) -> Iterator[tuple[int, LockStatus] | None]:
        """The lock file open (with a shared flock when nobody else holds it) and its status."""
        while True:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                yield None
                return
            except OSError as exc:
                raise StateError("State.LockFailed", f"cannot read the lock {self.path}: {exc}") from exc
            try:
                info = LockInfo.parse(_read_all(fd), str(self.path.absolute()))
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    live: bool | None = False
                except BlockingIOError:
                    live = True
                except OSError as exc:
                    if exc.errno not in _FLOCK_UNSUPPORTED:
                        raise
                    live = None
                if live is not False or _same_file(self.path, fd):
                    yield fd, LockStatus(info, live)
                    return
                # else: the file we looked at was released (and maybe replaced) meanwhile; look again
            finally:
                os.close(fd)

    def info(self) -> LockInfo | None:
        status = self.status()
        return status.info if status else None

    def force_unlock(self, lock_id: str) -> None:
        """Remove a left-behind lock whose id is ``lock_id`` (``"unknown"`` for unreadable ones).

        State.NotLocked when there is no lock, State.LockIdMismatch when the id differs,
        State.LockHeld when a live process holds it (unless liveness cannot be told).
        """
        with self._opened() as opened:
            if opened is None:
                raise StateError("State.NotLocked", f"the state is not locked ({self.path} does not exist)")
            fd, status = opened
            info = status.info
            if info.id != lock_id and info.id == UNKNOWN_LOCK_ID:
                raise StateError("State.LockIdMismatch", f"the lock file {self.path} is unreadable (it holds no "
                                 f"lock record), so it has no ID {lock_id}; nothing was removed. "
                                 f"`ipamctl force-unlock {UNKNOWN_LOCK_ID}` removes an unreadable lock file")
            if info.id != lock_id:
                raise StateError(
                    "State.LockIdMismatch",
                    f"the lock's ID is {info.id}, not {lock_id}; nothing was removed "
                    f"(taken by {info.holder} running {info.command!r} at {info.created})",
                )
            if status.live:
                raise StateError(
                    "State.LockHeld",
                    f"lock {info.id} is held by a running process, {info.holder} running {info.command!r} "
                    f"since {info.created}; stop that process instead of removing its lock",
                )
            try:
                if _same_file(self.path, fd):
                    os.unlink(self.path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StateError("State.LockFailed", f"cannot remove the lock {self.path}: {exc}") from exc


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)
