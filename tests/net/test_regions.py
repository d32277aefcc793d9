"""The region table (``data/regions.json``) and the zone-id rule (issue 17, items 10 and 11)."""

from __future__ import annotations

import json
import re

from reconciler.net import regions
from reconciler.net.eni_limits import IP_PREFIX_REGIONS


def test_the_table_is_dated_and_sourced():
    data = json.loads(regions.DATA_FILE.read_text(encoding="utf-8"))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["as_of"]) and data["sources"]
    assert regions.AS_OF == data["as_of"]


def test_every_region_the_seeds_name_is_in_the_table():
    assert IP_PREFIX_REGIONS <= regions.REGIONS  # the seed's 24 prefix regions
    assert {"cn-hangzhou", "cn-shanghai"} <= regions.REGIONS  # the IPAM seeds' examples


def test_listed_zones_follow_the_zone_rule():
    for region, zones in regions.KNOWN_ZONES.items():
        for zone in zones:
            assert regions.zone_in_region(zone, region)
            assert not regions.zone_in_region(zone, "cn-beijing")


def test_zone_forms():
    assert regions.zone_in_region("ap-southeast-1a", "ap-southeast-1")
    assert regions.zone_in_region("eu-central-1a", "eu-central-1")
    assert regions.zone_in_region("cn-hangzhou-h", "cn-hangzhou")
    assert not regions.zone_in_region("ap-southeast-1-a", "ap-southeast-1")
    assert not regions.zone_in_region("ap-southeast-1", "ap-southeast-1")
    assert not regions.zone_in_region("cn-hangzhou", "cn-hangzhou")
    assert "ap-southeast-1a" in (regions.zone_problem("ap-southeast-1-a", "ap-southeast-1") or "")


def test_an_invisible_character_is_named():
    problem = regions.region_problem("cn-hangzhou\u200b")
    assert problem is not None and "\\u200b" in problem and "did you mean 'cn-hangzhou'" in problem
    assert regions.region_problem("cn-hangzhou") is None
