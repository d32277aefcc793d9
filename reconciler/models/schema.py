"""The JSON Schema of the spec format, as editors read it (``ipamctl schema``, and the copy shipped in
the package, ``reconciler/data/ipamctl.schema.json``, which ``schema/ipamctl.schema.json`` links to).

Made from the models (their descriptions and bounds), plus what only an editor needs: the draft and
an id, the name rule for every resource key, and a pattern for CIDR blocks, so a malformed block is
flagged as it is typed. The patterns are looser than ipamctl's own checks (which name the exact rule),
never stricter: a spec the schema flags is one ipamctl refuses too.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.models.network import _KINDS_BY_NAME, NAME_RE, Spec

SCHEMA_ID = "urn:ipam-reconciler:spec:1"  # no public address is promised; editors go by the file's path
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def spec_schema() -> dict[str, Any]:
    body = Spec.model_json_schema()
    names = {"pattern": NAME_RE.pattern}
    for kind in _KINDS_BY_NAME:
        body["properties"][kind]["propertyNames"] = names
    return {"$schema": DRAFT, "$id": SCHEMA_ID, "title": "ipamctl specs",
            "description": "One file of an ipamctl workspace's specs/ folder; the files are merged into one "
                           "desired state (README, 'The spec format').",
            **{k: v for k, v in body.items() if k != "title"}}


def schema_text() -> str:
    """The schema as the shipped file holds it (sorted keys, two-space indent, a final newline)."""
    return json.dumps(spec_schema(), indent=2, sort_keys=True) + "\n"
