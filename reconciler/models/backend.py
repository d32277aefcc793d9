"""The ``backend:`` block: where the workspace's state is kept -- local files (the default) or PostgreSQL.

``{type: postgres, workspace: NAME, schema: ipamctl, conn_str: "host=... dbname=..."}``. The connection
comes from ``conn_str``, else the ``PG_CONN_STR`` environment variable, else libpq's own variables
(PGHOST, PGUSER, PGPASSWORD, ...). A password never belongs in a spec file (specs live in Git): one
written in ``conn_str`` (``password=``, a ``user:pass@`` URI, ``?password=``) is refused with
``Spec.BackendSecret``, whose message names the key, never the value.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from reconciler.errors import SpecError, raise_all
from reconciler.models.fields import refuse_secret_keys
from reconciler.source.loader import SpecDocument

SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
WORKSPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")
SECRET_KEYS = frozenset({"password", "passwd", "pgpassword", "secret", "sslpassword", "credentials"})
# keyword/value: password = ... (libpq allows spaces around '='); a URI: user:pass@ or ?password= / &password=
_KV_SECRET = re.compile(r"(?:^|\s)(?:ssl)?password\s*=", re.IGNORECASE)
_URI = re.compile(r"^postgres(?:ql)?://", re.IGNORECASE)
_URI_USERINFO_PASS = re.compile(r"^postgres(?:ql)?://[^/?#@]*:[^/?#@]*@", re.IGNORECASE)
_URI_QUERY_SECRET = re.compile(r"[?&](?:ssl)?password=", re.IGNORECASE)
_HINT = ("give it in PGPASSWORD, a password file (~/.pgpass, or passfile= in conn_str) or the PG_CONN_STR "
         "environment variable instead")


def conn_str_secret(conn_str: str) -> str | None:
    """What kind of password ``conn_str`` holds (never the password itself), or None."""
    if _URI.match(conn_str):
        if _URI_USERINFO_PASS.match(conn_str):
            return "a user:password@ part"
        if _URI_QUERY_SECRET.search(conn_str):
            return "a password= parameter"
        return None
    return "a password= setting" if _KV_SECRET.search(conn_str) else None


class BackendSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    type: Literal["local", "postgres"] = "local"
    workspace: str | None = Field(default=None, description="postgres: this workspace's name in the database "
                                  "(several workspaces share one database, each with its own state and lock)")
    schema_: str = Field(default="ipamctl", alias="schema",
                         description="postgres: the schema holding the tables (created and migrated on first use)")
    conn_str: str | None = Field(default=None, description="postgres: a libpq connection string without a "
                                 "password; default: PG_CONN_STR, else the PG* environment variables")

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: object) -> object:
        refuse_secret_keys(data, SECRET_KEYS, "Spec.BackendSecret", "a password never goes in spec files; " + _HINT)
        if isinstance(data, dict):
            conn_str = data.get("conn_str")
            kind = conn_str_secret(conn_str) if isinstance(conn_str, str) else None
            if kind:
                raise PydanticCustomError("Spec.BackendSecret", "conn_str holds {kind}: a password never goes in "
                                          "spec files; " + _HINT, {"kind": kind, "at": "conn_str"})
        return data

    @model_validator(mode="after")
    def _fits_type(self) -> Self:
        if self.type == "local":
            given = [k for k, f in (("workspace", "workspace"), ("schema", "schema_"), ("conn_str", "conn_str"))
                     if f in self.model_fields_set]
            if given:
                raise PydanticCustomError("Spec.BackendField", "{keys} belong to backend type postgres",
                                          {"keys": ", ".join(given)})
            return self
        if self.workspace is None:
            raise PydanticCustomError("Spec.BackendWorkspace", "backend type postgres needs a workspace name "
                                      "(several workspaces can share one database)", {})
        if not WORKSPACE_RE.match(self.workspace):
            raise PydanticCustomError("Spec.BackendWorkspace", "workspace must start with a letter or digit and "
                                      "use only letters, digits and _ . : / - (at most 128 characters)", {})
        if not SCHEMA_RE.match(self.schema_):
            raise PydanticCustomError("Spec.BackendSchema", "schema must be a lower-case SQL identifier: letters, "
                                      "digits and _, not starting with a digit (at most 63 characters)", {})
        return self


def backend_spec(doc: SpecDocument) -> BackendSpec:
    """The document's ``backend:`` block validated on its own (the default when there is none), so that
    the state can be found while other parts of the specs are still being fixed. SpecError located
    at the block's file and line."""
    raw: Any = doc.data.get("backend") if isinstance(doc.data, dict) else None
    if raw is None:
        return BackendSpec()
    try:
        return BackendSpec.model_validate(raw)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            at = (err.get("ctx") or {}).get("at")
            loc = ("backend", *err["loc"])
            etype = err["type"]
            code = etype if "." in etype else ("Spec.UnknownKey" if etype == "extra_forbidden" else "Spec.InvalidValue")
            msg = f"unknown key {loc[-1]!r}" if etype == "extra_forbidden" else err["msg"]
            file, line = doc.locate(("backend", at) if at else loc)  # the line of the offending key
            errors.append(SpecError(code, f"{'.'.join(str(p) for p in loc)}: {msg}", file=file, line=line))
        raise_all(errors)
        raise  # pragma: no cover - raise_all always raises when errors were found
