"""The cloud's rules for instances, ENIs, secondary private IPs and IP prefixes, checked at plan time.

Limits come from :mod:`reconciler.net.eni_limits` (shared with the sandbox): per-ENI address limits of
Available ENIs and of each instance type, ENIs per instance, security-group quotas, the regions
where prefixes exist, and the rule that a service-managed ENI is never changed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator, Mapping, TypeAlias

from reconciler.desired.compute import primary_eni
from reconciler.desired.network import Desired
from reconciler.errors import ReconcilerError
from reconciler.models.compute import AddressList, AddressSet, Count, InstanceSpec
from reconciler.models.network import Spec
from reconciler.net.address import ResourceAddress, address_of
from reconciler.net.records import refs_of
from reconciler.net.eni_limits import (
    AVAILABLE_ENI_MAX_IPV4_ENTRIES,
    AVAILABLE_ENI_MAX_IPV6,
    AVAILABLE_ENI_MAX_PRIVATE_IPV4,
    IP_PREFIX_REGIONS,
    InstanceType,
    load_instance_types,
    security_group_quota,
    security_group_usage,
)
from reconciler.source.locate import Locator, Problems, SpecPath, nowhere

Records: TypeAlias = Mapping[ResourceAddress, Mapping[str, Any]]  # JSON-like records by address
# (address, spec path, address set, attached instance or None, vswitch, security group) of one ENI
EniEntry: TypeAlias = tuple[ResourceAddress, tuple[str, str], AddressSet, str | None, str | None, str | None]
SG_TYPE = {"basic": "normal", "advanced": "enterprise"}
RUNNING_OR_STOPPED = ("Running", "Stopped")  # the states in which a primary ENI takes secondary addresses
MANAGED_FIELDS = ("vswitch", "security_group", "instance", "primary_ip", "secondary_private_ips", "ipv4_prefixes",
                  "ipv6_addresses", "ipv6_prefixes")


def _n(value: AddressList | None) -> int:
    if value is None:
        return 0
    return value.count if isinstance(value, Count) else len(value)


def wanted_counts(s: AddressSet) -> dict[str, int]:
    """How many of each an ENI's spec asks for (counts taken from the spec, before allocation)."""
    return {"ipv4": 1 + _n(s.secondary_private_ips), "ipv4_prefixes": _n(s.ipv4_prefixes),
            "ipv6": _n(s.ipv6_addresses), "ipv6_prefixes": _n(s.ipv6_prefixes)}


class _Checker:
    def __init__(self, spec: Spec, desired: Desired, recorded: Records, external: Records, locate: Locator) -> None:
        self.spec, self.desired, self.recorded, self.external = spec, desired, recorded, external
        self.problems = Problems(locate)
        self.fail = self.problems.add  # every rule reports through it, at the spec path it checks
        overrides = {name: t.model_dump() for name, t in spec.instance_types.items()}
        self.types: dict[str, InstanceType] = load_instance_types(overrides)

    def enis(self) -> Iterator[EniEntry]:
        """(address, spec path, address set, attached instance or None, vswitch, security group)."""
        # (addresses written out: no call per ENI)
        address: ResourceAddress
        for name, inst in self.spec.instances.items():
            address = f"eni.{primary_eni(name)}"  # type: ignore[assignment]
            yield address, ("instances", name), inst, name, inst.vswitch, inst.security_group
        for name, eni in self.spec.enis.items():
            if not eni.managed:
                address = f"eni.{name}"  # type: ignore[assignment]
                yield address, ("enis", name), eni, eni.instance, eni.vswitch, eni.security_group

    def run(self) -> None:
        inst: InstanceSpec | None  # (a declared instance here, then an ENI's attached one or None)
        for name, inst in self.spec.instances.items():
            if inst.instance_type not in self.types:
                self.fail("InvalidInstanceType.NotFound", f"{inst.instance_type} is not in the instance-type table; "
                          "add it under `instance_types:`", address_of("instance", name),
                          ("instances", name, "instance_type"))
        per_instance: Counter[str] = Counter()
        per_group: Counter[str] = Counter()
        instances, vswitches, groups = self.spec.instances, self.spec.vswitches, self.spec.security_groups
        types, recorded = self.types, self.recorded
        itype_of = {name: types.get(inst.instance_type) for name, inst in instances.items()}
        no_prefixes: dict[str | None, bool] = {}  # vswitch -> in a region without IP prefixes
        # each rule is tested inline and reported by its method (which tests again and words the error):
        # a plan runs this for every ENI, and nearly all pass
        for address, path, s, instance, vswitch, group in self.enis():
            vsw = vswitches.get(vswitch) if vswitch else None
            inst = instances.get(instance) if instance and not address.endswith("-primary") else None
            if group is None or (vsw is not None and (
                    (group in groups and groups[group].vpc != vsw.vpc)
                    or (inst is not None and (other := vswitches.get(inst.vswitch)) is not None
                        and (other.vpc != vsw.vpc or other.zone != vsw.zone)))):
                self.placement(address, path, instance, vswitch, group)
            n4, n4p, n6, n6p = (1 + _n(s.secondary_private_ips), _n(s.ipv4_prefixes), _n(s.ipv6_addresses),
                                _n(s.ipv6_prefixes))
            c: dict[str, int] | None = None
            if instance is not None:
                per_instance[instance] += 1
                itype = itype_of.get(instance)
                if itype is not None and (n4 + n4p > itype.ipv4_per_eni or n6 + n6p > itype.ipv6_per_eni):
                    c = wanted_counts(s)
                    self.limits(address, path, c, instance, itype)
            elif (n4 > AVAILABLE_ENI_MAX_PRIVATE_IPV4 or n4 + n4p > AVAILABLE_ENI_MAX_IPV4_ENTRIES
                  or n6 + n6p > AVAILABLE_ENI_MAX_IPV6):
                c = wanted_counts(s)
                self.limits(address, path, c, instance, None)
            if group is not None:
                per_group[group] += security_group_usage(n4, n4p, n6, n6p)
            if (n4p or n6p) and vsw is not None:
                denied = no_prefixes.get(vswitch)
                if denied is None:
                    vpc = self.spec.vpcs.get(vsw.vpc)
                    denied = no_prefixes[vswitch] = vpc is not None and vpc.region not in IP_PREFIX_REGIONS
                if denied:
                    self.prefix_region(address, path, vswitch)
            if (n4 - 1 + n4p + n6 + n6p) and address.endswith("-primary") and path[0] == "instances":
                rec = recorded.get(f"instance.{path[1]}")  # type: ignore[call-overload]  # (no call per primary ENI)
                if (rec["attributes"].get("status") if rec else instances[path[1]].status) not in RUNNING_OR_STOPPED:
                    self.primary_status(address, path, path[1], c or wanted_counts(s))
        for instance, count in per_instance.items():
            itype = self.types.get(self.spec.instances[instance].instance_type) if instance in self.spec.instances else None
            if itype is not None and count > itype.eni_quantity:
                self.fail("EniPerInstanceLimitExceeded",
                          f"{itype.name} takes {itype.eni_quantity} ENIs, the primary included; {count} are attached",
                          address_of("instance", instance), ("instances", instance))
        for name, sg in self.spec.security_groups.items():
            quota = security_group_quota(SG_TYPE[sg.type])
            if per_group[name] > quota:
                self.fail("QuotaExceeded.SecurityGroupPrivateIp",
                          f"a {sg.type} security group holds {quota:,} private IPs and prefixes; its ENIs ask for "
                          f"{per_group[name]:,}", address_of("security_group", name), ("security_groups", name))
        self.managed()

    def placement(self, address: ResourceAddress, path: SpecPath, instance: str | None, vswitch: str | None,
                  group: str | None) -> None:
        """A security group is required and lives in the vSwitch's VPC; an ENI attaches only to an
        instance in the same VPC and zone."""
        vsw = self.spec.vswitches.get(vswitch) if vswitch else None
        if group is None:
            self.fail("MissingParameter.SecurityGroupId", "an ENI (and an instance) needs a security group",
                      address, path)
        elif vsw is not None and group in self.spec.security_groups and self.spec.security_groups[group].vpc != vsw.vpc:
            self.fail("InvalidSecurityGroupId.VpcMismatch", f"security_group.{group} is in vpc."
                      f"{self.spec.security_groups[group].vpc}, vswitch.{vswitch} in vpc.{vsw.vpc}", address,
                      path + ("security_group",))
        inst = self.spec.instances.get(instance) if instance and not address.endswith("-primary") else None
        other = self.spec.vswitches.get(inst.vswitch) if inst else None
        if vsw is not None and other is not None:
            if other.vpc != vsw.vpc:
                self.fail("InvalidOperation.VpcMismatch", f"instance.{instance} is in vpc.{other.vpc}, this ENI in "
                          f"vpc.{vsw.vpc}", address, path + ("instance",))
            elif other.zone != vsw.zone:
                self.fail("InvalidOperation.ZoneMismatch", f"instance.{instance} is in {other.zone}, this ENI in "
                          f"{vsw.zone}", address, path + ("instance",))

    def limits(self, address: ResourceAddress, path: SpecPath, c: Mapping[str, int], instance: str | None,
               itype: InstanceType | None) -> None:
        if instance is None:
            if c["ipv4"] > AVAILABLE_ENI_MAX_PRIVATE_IPV4:
                self.fail("InvalidOperation.Ipv4CountExceeded",
                          f"an Available ENI holds at most {AVAILABLE_ENI_MAX_PRIVATE_IPV4} private IPv4 addresses, "
                          f"the primary included; {c['ipv4']} asked", address, path + ("secondary_private_ips",))
            elif c["ipv4"] + c["ipv4_prefixes"] > AVAILABLE_ENI_MAX_IPV4_ENTRIES:
                self.fail("InvalidOperation.Ipv4CountExceeded",
                          f"an Available ENI holds at most {AVAILABLE_ENI_MAX_IPV4_ENTRIES} private IPv4 entries, "
                          f"counting the primary, each secondary address and each IPv4 prefix (so at most "
                          f"{AVAILABLE_ENI_MAX_IPV4_ENTRIES - 1} prefixes); this ENI asks for "
                          f"{c['ipv4'] + c['ipv4_prefixes']} (1 primary, {c['ipv4'] - 1} secondary, "
                          f"{c['ipv4_prefixes']} prefixes)", address, path + ("ipv4_prefixes",))
            if c["ipv6"] + c["ipv6_prefixes"] > AVAILABLE_ENI_MAX_IPV6:
                self.fail("InvalidOperation.Ipv6CountExceeded",
                          f"an Available ENI holds at most {AVAILABLE_ENI_MAX_IPV6} IPv6 addresses and prefixes; "
                          f"{c['ipv6'] + c['ipv6_prefixes']} asked", address, path)
            return
        if itype is None:
            return
        used4 = c["ipv4"] + c["ipv4_prefixes"]
        if used4 > itype.ipv4_per_eni:
            self.fail("InvalidOperation.Ipv4CountExceeded",
                      f"{itype.name} takes {itype.ipv4_per_eni} private IPv4 per ENI, counting the primary, each "
                      f"secondary address and each IPv4 prefix; this ENI asks for {used4} (1 primary, "
                      f"{c['ipv4'] - 1} secondary, {c['ipv4_prefixes']} prefixes)", address, path)
        used6 = c["ipv6"] + c["ipv6_prefixes"]
        if used6 > itype.ipv6_per_eni:
            self.fail("InvalidOperation.Ipv6CountExceeded",
                      f"{itype.name} takes {itype.ipv6_per_eni} IPv6 per ENI, counting addresses and prefixes; "
                      f"this ENI asks for {used6}", address, path)

    def prefix_region(self, address: ResourceAddress, path: SpecPath, vswitch: str | None) -> None:
        vsw = self.spec.vswitches.get(vswitch) if vswitch else None
        vpc = self.spec.vpcs.get(vsw.vpc) if vsw else None
        if vpc is not None and vpc.region not in IP_PREFIX_REGIONS:
            self.fail("OperationDenied.IpPrefixNotSupportedInRegion",
                      f"IP prefixes are not available in {vpc.region}", address, path)

    def primary_status(self, address: ResourceAddress, path: SpecPath, instance: str, c: Mapping[str, int]) -> None:
        extra = c["ipv4"] - 1 + c["ipv4_prefixes"] + c["ipv6"] + c["ipv6_prefixes"]
        rec = self.recorded.get(address_of("instance", instance))
        status = rec["attributes"].get("status") if rec else self.spec.instances[instance].status
        if extra and status not in RUNNING_OR_STOPPED:
            self.fail("IncorrectInstanceStatus",
                      f"secondary addresses on a primary ENI need its instance Running or Stopped; it is {status}",
                      address, path)

    def managed(self) -> None:
        for name, eni in self.spec.enis.items():
            # (the address written out: no call per ENI)
            address: ResourceAddress = f"eni.{name}"  # type: ignore[assignment]
            path = ("enis", name)
            if eni.id is not None and not eni.managed:
                self.fail("Spec.Invalid", "an ENI given by id must be `managed: true` (adopting other existing "
                          "ENIs is `ipamctl import`)", address, path + ("id",))
            if not eni.managed:
                continue
            if eni.id is None:
                self.fail("Spec.MissingKey", "a managed ENI is referred to by its id", address, path)
                continue
            changed = [f for f in MANAGED_FIELDS if getattr(eni, f) is not None]
            if changed:
                self.fail("InvalidOperation.EniServiceManaged",
                          f"{eni.id} is managed by a cloud service and cannot be changed; remove {', '.join(changed)}",
                          address, path + (changed[0],))
            if address not in self.external:
                self.fail("InvalidEniId.NotFound", f"no ENI {eni.id} was found in the cloud", address, path + ("id",))
            elif not self.external[address]["attributes"].get("managed"):
                self.fail("Spec.Invalid", f"{eni.id} is not service-managed; manage it as a normal ENI or import it",
                          address, path + ("managed",))
            else:
                self.managed_parents(address, eni.id)

    def managed_parents(self, address: ResourceAddress, eni_id: str) -> None:
        """A managed ENI keeps its vSwitch and security group: the cloud refuses to delete either while
        the ENI lives (``DependencyViolation.NetworkInterface``), and only its service may delete it.
        Refused here when the plan would delete or replace one of them (run per managed ENI only)."""
        from reconciler.plans.diff import ChangeKind, diff  # (only for managed ENIs: rare)

        a = self.external[address]["attributes"]
        service = a.get("description") or "a cloud service"
        for kind, name in (("vswitch", a.get("vswitch")), ("security_group", a.get("security_group"))):
            target = f"{kind}.{name}" if name else None
            if target is None or target not in self.recorded:
                continue  # not made by this workspace: nothing here deletes it
            # the target and what it depends on (a replaced parent replaces it): a plan of those alone
            closure: dict[ResourceAddress, dict[str, Any]] = {}
            queue: list[ResourceAddress] = [target]  # type: ignore[list-item]
            while queue:
                at = queue.pop()
                if at in closure or at not in self.recorded:
                    continue
                closure[at] = dict(self.recorded[at])
                queue.extend(refs_of(self.recorded[at]))
            wanted = {k: self.desired.resources[k] for k in closure if k in self.desired.resources}
            change = next((c for c in diff(wanted, closure) if c.address == target), None)
            if change is None or change.kind not in (ChangeKind.DELETE, ChangeKind.REPLACE):
                continue
            how = ("removed from the spec" if change.kind is ChangeKind.DELETE
                   else "replaced (" + ", ".join(change.replace_reasons) + ")")
            spec_kind = "vswitches" if kind == "vswitch" else "security_groups"
            in_spec = name in (self.spec.vswitches if kind == "vswitch" else self.spec.security_groups)
            self.fail("DependencyViolation.NetworkInterface",
                      f"{target} would be deleted ({how}), but the managed ENI {address} ({eni_id}, managed by "
                      f"{service}) is in it; the cloud refuses that until the service deletes its ENI: keep "
                      f"{target} as it is", target,
                      (spec_kind, name) if in_spec else ("enis", address.split(".", 1)[1]))


def check_compute(spec: Spec, desired: Desired, recorded: Records, external: Records,
                  locate: Locator | None = None) -> list[ReconcilerError]:
    c = _Checker(spec, desired, recorded, external, locate or nowhere)
    c.run()
    return c.problems.errors
