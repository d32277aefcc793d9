"""A plan document in Terraform's JSON plan representation (``terraform show -json``), for the tools
made for it: checkov, terraform-compliance, terraform-unidiff, HashiCorp's terraform-json.

:func:`sections` derives, from a plan's values (its desired records and its change set, resolved from
the plan's records table by :mod:`reconciler.plans.table`) and its provider settings, what those tools
read: ``resource_changes``, ``terraform_version``, ``planned_values``, ``prior_state`` and
``configuration``. ``plan --json`` and ``show --json PLANFILE`` print them; a saved plan (``--out``)
does not hold them (they would repeat every record, and ``show --json`` derives them again). Being
derived, they are outside the plan's checksum and signature; instead a reader refuses a document
whose sections are not exactly what its checked keys derive (:func:`matches`), so a signed plan's
sections cannot be edited either. (A plan of format "1" saved ``resource_changes``, under its checksum.)

Pure: plain JSON values (or the read-only views the plan file serializes) in, JSON values out; the
records are referred to, not copied.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from reconciler.plans.pieces import Lazy

# The version of Terraform's plan format the document follows: "1.2", what Terraform prints today
# (1.5 to 1.15 do), and a value every consumer takes: terraform-compliance 1.16 lists 0.1, 0.2, 1.0,
# 1.1 and 1.2; terraform-json (since v0.13.0) takes ">= 0.1, < 2.0"; checkov and terraform-unidiff
# check no value. ipamctl's own plan format is versioned apart (``ipamctl_format_version``), so
# either can move without the other.
FORMAT_VERSION = "1.2"
STATE_FORMAT_VERSION = "1.0"  # prior_state is in Terraform's state representation, whose format is 1.0
# Not a Terraform release: a document made by ipamctl, dressed as one Terraform release that prints
# format 1.2 (1.5.7), because terraform-compliance refuses a value not starting with a release it
# knows (0.12. to 1.16.) and checkov reads a JSON file in a folder as a plan only with the key. The
# semver build metadata (+ipamctl) says who made it and leaves the version order as 1.5.7's.
TERRAFORM_VERSION = "1.5.7+ipamctl"
PROVIDER_SOURCE = "ipam-reconciler/"  # + the provider type: resource_changes' provider_name, as before

# The keys :func:`sections` makes (sorted): never saved, never hashed, checked by :func:`matches`.
DERIVED = ("configuration", "planned_values", "prior_state", "resource_changes", "terraform_version")

TF_ACTIONS = {"create": ["create"], "update": ["update"], "replace": ["delete", "create"], "delete": ["delete"]}


def sections(settings: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The Terraform sections of a plan made with provider ``settings``, from its ``values``: ``desired``
    (address -> record), ``change_set`` (changes with their before and after) and ``imported`` (the
    addresses the plan imports), as :mod:`reconciler.plans.table` resolves them. Their long lists are
    :class:`Lazy`: each resource is made as it is written (a chunk at a time), or compared."""
    provider = settings["type"]
    desired = values["desired"]
    addresses = sorted(desired)
    provider_name = PROVIDER_SOURCE + provider
    return {
        "terraform_version": TERRAFORM_VERSION,
        "resource_changes": resource_changes(values["change_set"], provider),
        "planned_values": {"root_module": {"resources": Lazy(
            addresses, lambda a: _resource(a, desired[a], desired[a]["attributes"], provider_name))}},
        "prior_state": {
            "format_version": STATE_FORMAT_VERSION, "terraform_version": TERRAFORM_VERSION,
            "values": {"root_module": {"resources": prior_resources(values, provider)}},
        },
        "configuration": {
            "provider_config": {provider: {
                "name": provider, "full_name": PROVIDER_SOURCE + provider,
                # the settings the plan was made with (a spec refuses secrets in them)
                "expressions": {k: {"constant_value": v} for k, v in sorted(settings.items()) if k != "type"},
            }},
            # ipamctl's specs are not Terraform configuration: no expressions, the values are in planned_values
            "root_module": {"resources": Lazy(addresses, lambda a: _configured(a, desired[a], provider))},
        },
    }


def resource_changes(changes: Sequence[Mapping[str, Any]], provider: str) -> Lazy:
    """Shaped like ``terraform show -json``'s resource_changes, so PR-comment tools can read it."""
    provider_name = PROVIDER_SOURCE + provider

    def change(c: Mapping[str, Any]) -> dict[str, Any]:
        reasons = c["replace_reasons"]
        return {
            "address": c["address"], "mode": "managed", "type": c["type"], "name": c["name"],
            "provider_name": provider_name,
            "change": {
                "actions": list(TF_ACTIONS[c["kind"]]), "before": c["before"], "after": c["after"],
                "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {},
                "replace_paths": [r.split(" ")[0].split(".") for r in reasons if r.endswith(" changes")] if reasons else [],
            },
            "action_reason": "replace_because_cannot_update" if c["kind"] == "replace" else None,
        }
    return Lazy(changes, change)


def prior_resources(values: Mapping[str, Any], provider: str) -> Lazy:
    """The records the plan was made against, as far as the document tells them: the ``before`` of
    every change, and every desired record the plan leaves as it is; not the records it imports (the
    state holds them only once applied), nor a default scope whose IPAM the plan creates."""
    changes = values["change_set"]
    imported = values["imported"]
    created = {c["address"] for c in changes if c["kind"] == "create"}
    out = {c["address"]: (c, c["before"]) for c in changes if c["before"] is not None and c["address"] not in imported}
    touched = {c["address"] for c in changes}
    desired = values["desired"]
    for address in desired:
        rec = desired[address]
        if address not in touched and address not in imported and not _comes_with(rec, created):
            out[address] = (rec, rec["attributes"])
    provider_name = PROVIDER_SOURCE + provider
    return Lazy(sorted(out), lambda a: _resource(a, out[a][0], out[a][1], provider_name))


def _comes_with(rec: Mapping[str, Any], created: set[str]) -> bool:
    """A default scope of an IPAM this plan creates: it comes into being with it."""
    a = rec["attributes"]
    return rec["type"] == "ipam_scope" and a.get("default") is True and f"ipam.{a.get('ipam')}" in created


def _resource(address: str, rec: Mapping[str, Any], values: Any, provider_name: str) -> dict[str, Any]:
    return {"address": address, "mode": "managed", "type": rec["type"], "name": rec["name"],
            "provider_name": provider_name, "schema_version": 0, "values": values,
            "sensitive_values": {}}


def _configured(address: str, rec: Mapping[str, Any], provider: str) -> dict[str, Any]:
    return {"address": address, "mode": "managed", "type": rec["type"], "name": rec["name"],
            "provider_config_key": provider, "expressions": {}, "schema_version": 0}


def matches(body: Mapping[str, Any], derived: Mapping[str, Any], keys: tuple[str, ...] = DERIVED) -> bool:
    """Whether the Terraform sections ``body`` holds are exactly those its other keys derive
    (``derived``): all of them or none (a saved plan). One missing is refused too: a tool reading
    the rest would see no resources and report nothing wrong."""
    present = [k for k in keys if k in body]
    if not present:
        return True
    if len(present) != len(keys):
        return False
    return all(body[k] == derived[k] for k in keys)
