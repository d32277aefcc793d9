"""Connections to the PostgreSQL state backend, and its failures as StateErrors that never show a password.

The connection string is libpq's (keyword/value or URI). Empty, libpq reads its environment itself
(PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGPASSFILE, ...). Every message that can carry text
from the server or the driver goes through :func:`scrub`, which blanks each password the settings
hold (libpq's own messages hold none, but a malformed connection string is echoed back in parts).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import unquote

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from reconciler.errors import StateError

CONNECT_TIMEOUT = 10  # seconds, unless the settings give connect_timeout / PGCONNECT_TIMEOUT
_KV_PASSWORD = re.compile(r"(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"^postgres(?:ql)?://[^/?#@:]*:([^/?#@]*)@", re.IGNORECASE)
_URI_QUERY_PASSWORD = re.compile(r"[?&](?:ssl)?password=([^&#]*)", re.IGNORECASE)


def secrets_of(conninfo: str) -> list[str]:
    """Every password ``conninfo`` and the environment hold, as they may appear in a message."""
    found = [m.group(1) for m in _KV_PASSWORD.finditer(conninfo)]
    found += [m.group(1) for m in _URI_PASSWORD.finditer(conninfo)]
    found += [m.group(1) for m in _URI_QUERY_PASSWORD.finditer(conninfo)]
    found += [os.environ.get("PGPASSWORD", ""), os.environ.get("PGSSLPASSWORD", "")]
    out: set[str] = set()
    for value in found:
        for form in (value, value.strip("'"), unquote(value)):
            if form:
                out.add(form)
    return sorted(out, key=len, reverse=True)  # longest first: a password containing another is blanked whole


def scrub(text: str, conninfo: str) -> str:
    """``text`` on one line, each password the settings hold replaced by ``***``."""
    for secret in secrets_of(conninfo):
        text = text.replace(secret, "***")
    return " ".join(text.split())


def where(conninfo: str) -> str:
    """host:port/dbname (user) as the settings and libpq's environment give them; never a password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "(an unreadable connection string)"
    def get(key: str, env: str, default: str) -> str:
        return str(params.get(key) or os.environ.get(env) or default)
    host = get("host", "PGHOST", "the default socket")
    return (f"{host}:{get('port', 'PGPORT', '5432')}/{get('dbname', 'PGDATABASE', get('user', 'PGUSER', 'default'))}"
            f" as {get('user', 'PGUSER', 'the login user')}")


def connect(conninfo: str, purpose: str) -> psycopg.Connection:
    """An autocommit connection (``purpose`` names it in ``pg_stat_activity``: ipamctl:state, ipamctl:lock)."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise StateError("State.BackendConfig", "the connection settings of the PostgreSQL state backend (conn_str, "
                         f"PG_CONN_STR or the PG* variables) are not valid: {scrub(str(exc), conninfo)}") from None
    with translated(conninfo, "connect to"):
        extra: dict[str, object] = {}
        if "connect_timeout" not in params and not os.environ.get("PGCONNECT_TIMEOUT"):
            extra["connect_timeout"] = CONNECT_TIMEOUT
        if "application_name" not in params and not os.environ.get("PGAPPNAME"):
            extra["application_name"] = f"ipamctl:{purpose}"
        return psycopg.connect(conninfo, autocommit=True, **extra)  # type: ignore[arg-type]


def unavailable(conninfo: str, exc: BaseException, doing: str) -> StateError:
    """The StateError for a driver failure while doing ``doing`` ("record the intent of 1 call(s) in")."""
    detail = scrub(str(exc) or type(exc).__name__, conninfo)
    at = f"the PostgreSQL state backend ({where(conninfo)})"
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return StateError("State.BackendPermission", f"cannot {doing} {at}: {detail}. The role needs the grants "
                          "docs/backends.md lists (CREATE on the database for the first run, or a schema made "
                          "for it; USAGE and SELECT/INSERT/UPDATE/DELETE on its tables afterwards).")
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return StateError("State.BackendUnavailable", f"cannot {doing} {at}: {detail}")
    return StateError("State.BackendError", f"cannot {doing} {at}: {detail}")


@contextmanager
def translated(conninfo: str, doing: str) -> Iterator[None]:
    """Driver failures inside the block become :func:`unavailable` StateErrors (no traceback, no password)."""
    try:
        yield
    except psycopg.Error as exc:
        raise unavailable(conninfo, exc, doing) from None
