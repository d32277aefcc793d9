"""Every rule the planner enforces at plan time, each with the cloud's error code.

Each case starts from a valid address plan (``BASE``) and adds one spec file that breaks exactly one
rule; the plan must be refused with that rule's code. A control case shows the base plans cleanly.
"""

import pytest

from tests.support.specs import BASE, codes, errors

CASES = {
    # standard blocks only
    "host bits": ("pools:\n  x: {scope: private, cidrs: [192.168.1.1/16]}\n", "InvalidParameter.CidrNotStandard"),
    # IPv4 in private scopes only, IPv6 in the public scope only
    "ipv6 in private scope": ("pools:\n  x: {scope: private, ip_version: IPv6, region: cn-hangzhou, cidrs: [{mask: 48}]}\n",
                              "InvalidParameter.IpVersion"),
    "ipv4 in public scope": ("pools:\n  x: {scope: public, ip_version: IPv4, region: cn-hangzhou, cidrs: [{mask: 48}]}\n",
                             "InvalidParameter.IpVersion"),
    "ipv6 cidr in ipv4 pool": ("pools:\n  x: {scope: private, cidrs: ['2001:db8::/32']}\n", "InvalidParameter.IpVersion"),
    # top-level pools in one scope may not overlap
    "top-level overlap": ("pools:\n  x: {scope: private, cidrs: [10.1.0.0/16]}\n", "OperationDenied.CidrOverlapInScope"),
    # a sub-pool lies inside its source and overlaps nothing else there
    "sub-pool outside source": ("pools:\n  x: {source: root, cidrs: [11.0.0.0/16]}\n", "OperationDenied.CidrUnavailableInPool"),
    "sub-pool overlaps sibling": ("pools:\n  x: {source: root, cidrs: [10.16.0.0/12]}\n",
                                  "OperationDenied.CidrUnavailableInPool"),
    "sub-pool overlaps allocation": ("allocations:\n  idc: {pool: root, cidr: 10.64.0.0/16}\npools:\n"
                                     "  x: {source: root, cidrs: [10.64.0.0/12]}\n", "OperationDenied.CidrUnavailableInPool"),
    "sub-pool overlaps vpc": ("vpcs:\n  y: {region: cn-hangzhou, ipv4: {pool: hz-prod, cidr: 10.0.64.0/20}}\n"
                              "pools:\n  x: {source: hz-prod, cidrs: [10.0.64.0/24]}\n",
                              "OperationDenied.CidrUnavailableInPool"),
    "sub-pool scope differs": ("scopes:\n  acq: {type: private}\npools:\n  x: {source: root, scope: acq, cidrs: [10.64.0.0/12]}\n",
                               "InvalidParameter.IpamScopeId"),
    # quotas and hierarchy depth
    "depth over 10": ("pools:\n" + "".join(
        f"  d{i}: {{source: {'hz' if i == 0 else f'd{i-1}'}, cidrs: [{{mask: {12 + i}}}]}}\n" for i in range(9)),
        "QuotaExceeded.PoolDepth"),
    "scopes over 5": ("scopes:\n" + "".join(f"  s{i}: {{type: private}}\n" for i in range(4)), "QuotaExceeded.IpamScope"),
    "cidrs per pool over 50": ("pools:\n  x: {source: root, cidrs: [" + ", ".join(
        f"10.{64 + i}.0.0/16" for i in range(51)) + "]}\n", "QuotaExceeded.IpamPoolCidr"),
    "sub-pools over 50": ("pools:\n" + "".join(f"  s{i}: {{source: root, cidrs: [{{mask: 20}}]}}\n" for i in range(51)),
                          "QuotaExceeded.SubPool"),
    "pools per private scope over 500": ("scopes:\n  big: {type: private}\npools:\n" + "".join(
        f"  p{i}: {{scope: big, cidrs: [10.{i // 256}.{i % 256}.0/24]}}\n" for i in range(501)), "QuotaExceeded.IpamPool"),
    "public ipv6 top pool takes one cidr": ("pools:\n  v6: {scope: public, region: cn-hangzhou, cidrs: [{mask: 48}, {mask: 48}]}\n",
                                            "QuotaExceeded.IpamPoolCidr"),
    "public ipv6 top pool mask only": ("pools:\n  v6: {scope: public, region: cn-hangzhou, cidrs: ['2408:4000::/48']}\n",
                                       "InvalidParameter.Cidr"),
    "one public ipv6 top pool per region": ("pools:\n  a: {scope: public, region: cn-hangzhou, cidrs: [{mask: 48}]}\n"
                                            "  b: {scope: public, region: cn-hangzhou, cidrs: [{mask: 48}]}\n",
                                            "QuotaExceeded.PublicIpv6TopPool"),
    "ipv4 top pool explicit only": ("pools:\n  x: {scope: private, cidrs: [{mask: 16}]}\n", "InvalidParameter.NetmaskLength"),
    # effective regions
    "ipv6 pool needs region": ("pools:\n  v6: {scope: public, cidrs: [{mask: 48}]}\n", "MissingParameter.PoolRegionId"),
    "sub-pool region is inherited": ("pools:\n  x: {source: hz, region: cn-shanghai, cidrs: [{mask: 16}]}\n",
                                     "InvalidParameter.PoolRegionId"),
    "region outside operating regions": ("pools:\n  x: {source: root, region: cn-beijing, cidrs: [{mask: 16}]}\n",
                                         "InvalidParameter.PoolRegionId"),
    "vpc region must match pool": ("pools:\n  sh: {source: root, region: cn-shanghai, cidrs: [{mask: 16}]}\n"
                                   "vpcs:\n  x: {region: cn-hangzhou, ipv4: {pool: sh, mask: 20}}\n",
                                   "OperationDenied.IpamPoolNotInRegion"),
    "vpc from pool without region": ("vpcs:\n  x: {region: cn-hangzhou, ipv4: {pool: root, mask: 16}}\n",
                                     "OperationDenied.IpamPoolNotInRegion"),
    "auto import needs region": ("pools:\n  x: {source: root, auto_import: true, cidrs: [{mask: 16}]}\n",
                                 "OperationDenied.AutoImportWithoutRegion"),
    # allocation rules
    "vpc mask over max": ("vpcs:\n  x: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 25}}\n",
                          "OperationDenied.MaskOfCidrIsNotAllowed"),
    "vpc mask under min": ("pools:\n  y: {source: root, region: cn-hangzhou, cidrs: [10.64.0.0/12], "
                           "allocation: {min_mask: 20, max_mask: 24}}\n"
                           "vpcs:\n  x: {region: cn-hangzhou, ipv4: {pool: y, cidr: 10.64.0.0/18}}\n",
                           "OperationDenied.MaskOfCidrIsNotAllowed"),
    "allocation mask outside rules": ("allocations:\n  a: {pool: hz-prod, mask: 26}\n", "OperationDenied.MaskOfCidrIsNotAllowed"),
    "rule out of range": ("pools:\n  x: {source: root, cidrs: [{mask: 16}], allocation: {max_mask: 33}}\n",
                          "InvalidParameter.AllocationCidrMask"),
    "rule min above max": ("pools:\n  x: {source: root, cidrs: [{mask: 16}], allocation: {min_mask: 24, max_mask: 20}}\n",
                           "InvalidParameter.AllocationCidrMask"),
    "no mask and no default": ("vpcs:\n  x: {region: cn-hangzhou, ipv4: {pool: hz}}\n", "MissingParam.CidrOrCidrMask"),
    "pool exhausted": ("vpcs:\n" + "".join(f"  v{i}: {{region: cn-hangzhou, ipv4: {{pool: hz-prod, mask: 20}}}}\n"
                                           for i in range(8)), "OperationDenied.AvailableCidrInsufficient"),
    "vpc cidr outside pool": ("vpcs:\n  x: {region: cn-hangzhou, ipv4: {pool: hz-prod, cidr: 10.200.0.0/20}}\n",
                              "OperationDenied.CidrUnavailableInPool"),
    "vpc secondary overlaps another scope's block": (
        "scopes:\n  acq: {type: private}\npools:\n  a: {scope: acq, cidrs: [10.0.0.0/16]}\n"
        "  a-hz: {source: a, region: cn-hangzhou, cidrs: [10.0.0.0/17]}\n"
        "vpcs:\n  x: {region: cn-hangzhou, ipv4: {pool: hz-prod, cidr: 10.0.32.0/20}, "
        "secondary_cidrs: [{pool: a-hz, cidr: 10.0.32.0/22}]}\n", "InvalidCidrBlock.Overlapped"),
    "vpc ipv4 size": ("vpcs:\n  x: {region: cn-hangzhou, ipv4: {cidr: 192.168.0.0/29}}\n", "InvalidCidrBlock.Malformed"),
    "vpc ipv6 is a /56": ("pools:\n  v6: {scope: public, region: cn-hangzhou, cidrs: [{mask: 48}]}\n"
                          "vpcs:\n  x: {region: cn-hangzhou, ipv4: {cidr: 192.168.0.0/16}, ipv6: {pool: v6, mask: 60}}\n",
                          "InvalidParameter.Ipv6CidrMask"),
    # vSwitches
    "vswitch outside vpc": ("vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.200.0.0/24}\n", "InvalidCidrBlock.NotInVpc"),
    "vswitch overlap": ("vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.0.4.0/24}\n"
                        "  y: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.0.4.0/25}\n", "InvalidCidrBlock.Overlapped"),
    "vswitch too small": ("vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 30}}\n", "InvalidCidrBlock.Malformed"),
    "vswitch too large": ("vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.0.0.0/15}\n", "InvalidCidrBlock.Malformed"),
    "vswitch zone in another region": ("vswitches:\n  x: {vpc: prod, zone: cn-shanghai-b, cidr: {mask: 24}}\n",
                                       "InvalidZoneId.NotFound"),
    # references
    "unknown reference": ("vswitches:\n  x: {vpc: nope, zone: cn-hangzhou-h, cidr: {mask: 24}}\n", "Spec.UnknownReference"),
    "source cycle": ("pools:\n  a: {source: b, cidrs: [{mask: 16}]}\n  b: {source: a, cidrs: [{mask: 16}]}\n", "Spec.Cycle"),
    "default scope declared": ("scopes:\n  private: {type: private}\n", "Spec.ReservedName"),
}


def test_base_plans_cleanly(tmp_path):
    assert codes(tmp_path, BASE) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule(tmp_path, name):
    extra, code = CASES[name]
    found = codes(tmp_path, BASE, extra)
    assert code in found, f"{name}: expected {code}, got {found}"


def test_different_scopes_may_overlap(tmp_path):
    extra = "scopes:\n  acq: {type: private}\npools:\n  a: {scope: acq, cidrs: [10.0.0.0/8]}\n"
    assert codes(tmp_path, BASE, extra) == []


def test_errors_name_file_line_and_address(tmp_path):
    errs = errors(tmp_path, BASE, "vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.200.0.0/24}\n")
    (err,) = errs
    assert err.file.endswith("specs/01.yaml") and err.line == 2
    assert err.address == "vswitch.x"
    assert "10.200.0.0/24" in err.message and err.code in err.message


def test_every_error_is_reported_not_just_the_first(tmp_path):
    extra = ("vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.200.0.0/24}\n"
             "  y: {vpc: prod, zone: cn-shanghai-b, cidr: {mask: 24}}\n")
    found = codes(tmp_path, BASE, extra)
    assert "InvalidCidrBlock.NotInVpc" in found and "InvalidZoneId.NotFound" in found
