"""The region table (``data/regions.json``): which region ids exist, and which zone ids belong to a
region. Pure data and small functions, used alike by the models (plan time) and the sandbox cloud
(every call carrying a region), so both refuse an unknown region with the cloud's code.

Zones: the table lists the zones it can vouch for, but no public source lists every zone of every
region, so a zone is judged by the form of its id (``zone_rule`` in the data file): the region id,
then ``-`` and one lower-case letter when the region id ends in a letter (``cn-hangzhou-h``), or one
lower-case letter alone when it ends in a digit (``ap-southeast-1a``, ``eu-central-1a``).
"""

from __future__ import annotations

import json
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "regions.json"

#: The cloud's code for a region id it does not know (ECS / VPC: "The specified RegionId does not exist").
UNKNOWN_REGION = "InvalidRegionId.NotFound"
#: The cloud's code for a zone outside the region (or a zone id of no region).
UNKNOWN_ZONE = "InvalidZoneId.NotFound"


def _load() -> tuple[str, dict[str, str], dict[str, frozenset[str]]]:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    names = {rid: str(r["name"]) for rid, r in data["regions"].items()}
    zones = {rid: frozenset(r.get("zones", ())) for rid, r in data["regions"].items()}
    return str(data["as_of"]), names, zones


AS_OF, REGION_NAMES, KNOWN_ZONES = _load()
REGIONS = frozenset(REGION_NAMES)


def is_region(region_id: object) -> bool:
    return region_id in REGIONS


def region_problem(region_id: str) -> str | None:
    """Why ``region_id`` is not a region id (None when it is one)."""
    if region_id in REGIONS:
        return None
    shown = region_id.encode("unicode_escape").decode("ascii")
    hint = ""
    stripped = "".join(c for c in region_id if c.isascii() and (c.isalnum() or c == "-")).lower()
    if stripped != region_id and stripped in REGIONS:
        hint = f"; did you mean {stripped!r}? (the id holds other characters)"
    return (f"region {shown!r} is not a region id of the region table (data/regions.json, as of {AS_OF}){hint}; "
            f"known: {', '.join(sorted(REGIONS))}")


def zone_in_region(zone_id: str, region_id: str) -> bool:
    """Whether ``zone_id`` is a zone id of ``region_id``: a listed zone, or one of the id's form."""
    if zone_id in KNOWN_ZONES.get(region_id, ()):
        return True
    if not zone_id.startswith(region_id):
        return False
    rest = zone_id[len(region_id):]
    if region_id[-1:].isdigit():
        return len(rest) == 1 and "a" <= rest <= "z"
    return len(rest) == 2 and rest[0] == "-" and "a" <= rest[1] <= "z"


def zone_problem(zone_id: str, region_id: str) -> str | None:
    """Why ``zone_id`` is not a zone of ``region_id`` (None when it is)."""
    if zone_in_region(zone_id, region_id):
        return None
    example = f"{region_id}a" if region_id[-1:].isdigit() else f"{region_id}-a"
    return f"zone {zone_id!r} is not a zone of region {region_id} (its zones are written like {example})"
