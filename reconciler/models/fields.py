"""Field types and checks shared by the spec's blocks (regions; keys that would hold a secret)."""

from __future__ import annotations

from typing import Annotated, Iterable

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from reconciler.net.regions import REGIONS, UNKNOWN_REGION, region_problem


def _region(value: str) -> str:
    if value in REGIONS:  # (the common case: one set lookup)
        return value
    raise PydanticCustomError(UNKNOWN_REGION, "{rule}", {"rule": region_problem(value) or ""})


RegionText = Annotated[str, AfterValidator(_region), Field(description="A region id, e.g. cn-hangzhou (data/regions.json)")]


def refuse_secret_keys(data: object, keys: Iterable[str], code: str, why: str) -> None:
    """Refuse a block (raw, before validation) that has a key among ``keys`` (any case): the error names
    the keys, never their values, and says ``why`` (where the secret belongs instead)."""
    if not isinstance(data, dict):
        return
    secret = frozenset(keys)
    found = sorted(k for k in data if isinstance(k, str) and k.lower() in secret)
    if found:
        raise PydanticCustomError(code, "{keys}: " + why, {"keys": ", ".join(found), "at": found[0]})
