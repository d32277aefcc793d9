"""Request parameters in the RPC wire form, shared by the network and compute action mappings."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from reconciler.errors import CloudError


def listed(name: str, values: Iterable[Any]) -> dict[str, Any]:
    """A list as ``Name.1``, ``Name.2``, ..."""
    return {f"{name}.{i}": v for i, v in enumerate(values, start=1)}


def optional(**kw: Any) -> dict[str, Any]:
    """The parameters that have a value (None leaves a parameter out)."""
    return {k: v for k, v in kw.items() if v is not None}


def recorded_id(resources: Mapping[str, dict], address: str) -> str:
    """The cloud id the state records for ``address``; a step that needs it before it exists is refused."""
    rec = resources.get(address)
    if rec is None or not rec.get("id"):
        raise CloudError("State.MissingDependency", f"{address} has no recorded id; it must be created first")
    return rec["id"]


def pool_id(resources: Mapping[str, dict], block: Mapping) -> str:
    """The cloud id of the pool a block (or custom allocation) is drawn from: the one it carries when
    another workspace manages the pool (``external_pools:``), else the id the state records for it."""
    return block.get("pool_id") or recorded_id(resources, f"ipam_pool.{block['pool']}")


def gone(refusal: CloudError) -> bool:
    """A delete refused because its target is not there: what the delete was for (the ``settled``
    check of a delete the cloud gives no ClientToken)."""
    return refusal.code.endswith(".NotFound") or refusal.code.startswith("ResourceNotFound")
