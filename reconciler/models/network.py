"""The spec format as validated models (pydantic), and the conversion of a loaded document to them.

Field contents are checked here (types, unknown keys, CIDR syntax, mask ranges); relations between
resources (references, regions, overlaps, quotas) are checked by :mod:`reconciler.rules.network` and
:mod:`reconciler.desired.network`, which see the whole document.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from reconciler.errors import SpecError, raise_all
from reconciler.models.compute import (
    EniSpec,
    InstanceSpec,
    InstanceTypeSpec,
    ReservationSpec,
    SecurityGroupSpec,
)
from reconciler.models.backend import BackendSpec
from reconciler.models.external import ExternalPoolSpec
from reconciler.models.fields import RegionText
from reconciler.models.monitoring import MonitoringSpec
from reconciler.models.provider import ProviderSpec
from reconciler.net.address import address_of
from reconciler.net.cidr import Cidr, CidrSyntaxError
from reconciler.source.loader import SpecDocument
from reconciler.source.locate import Problems, SpecPath

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _cidr(value: str) -> str:
    try:
        return str(Cidr.parse(value))
    except CidrSyntaxError as exc:
        raise PydanticCustomError(exc.code, "{rule}", {"rule": str(exc)}) from None


# for editors only (the JSON Schema): an address and a prefix length; _cidr judges the rest, naming the rule
CIDR_PATTERN = (r"^(([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])"
                r"|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))$")
CidrText = Annotated[str, AfterValidator(_cidr), Field(description="A standard CIDR block, e.g. 10.0.0.0/16",
                                                       json_schema_extra={"pattern": CIDR_PATTERN})]




class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MaskRequest(_Model):
    """``{mask: N}``: the lowest free block of length N in the parent, chosen at plan time."""

    mask: int = Field(ge=0, le=128)


class IpamSpec(_Model):
    name: str
    region: RegionText = Field(description="The managed region")
    operating_regions: list[RegionText] = Field(default_factory=list, description="Includes the managed region")
    description: str | None = None
    discovered_overlaps: Literal["warn", "refuse"] = Field(
        "warn", description="A new pool block overlapping a Not hosted discovered CIDR: a plan warning, or refused")


class ScopeSpec(_Model):
    type: Literal["private"] = "private"
    description: str | None = None


class AllocationRules(_Model):
    min_mask: int | None = Field(default=None, ge=0, le=128)
    default_mask: int | None = Field(default=None, ge=0, le=128)
    max_mask: int | None = Field(default=None, ge=0, le=128)


class PoolSpec(_Model):
    scope: str | None = Field(default=None, description="Defaults to the source pool's scope")
    ip_version: Literal["IPv4", "IPv6"] | None = None
    source: str | None = Field(default=None, description="Source pool; omit for a top-level pool")
    region: RegionText | None = Field(default=None, description="Effective region; inherited by sub-pools")
    cidrs: list[Union[CidrText, MaskRequest]] = Field(default_factory=list)
    allocation: AllocationRules | None = None
    auto_import: bool = False
    isp: Literal["BGP"] | None = Field(default=None, description="Public IPv6 top-level pools only")
    description: str | None = None


ACCOUNT_RE = re.compile(r"^[0-9]{16}$")
DIRECTORY_RE = re.compile(r"^rd-[a-z0-9]{1,32}$")
SHARE_RESOURCE_RE = re.compile(r"^ipam_pool\.[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ResourceShareSpec(_Model):
    """A resource share (ResourceSharing CreateResourceShare): pools of this spec shared with other
    accounts, with the permission AliyunRSDefaultPermissionIpamPool."""

    resources: list[str] = Field(min_length=1, description="The pools shared, by address: ipam_pool.NAME")
    principals: list[str] = Field(min_length=1, description="Account ids (16 digits), or the resource "
                                  "directory's id (rd-...) for every account of it")
    allow_external_targets: bool = Field(default=True, description="true: any account (each accepts an "
                                         "invitation); false: accounts of this account's resource directory only")
    description: str | None = Field(default=None, description="For the reader (CreateResourceShare takes none)")

    @model_validator(mode="after")
    def _shape(self) -> Self:
        for r in self.resources:
            if not SHARE_RESOURCE_RE.match(r):
                raise PydanticCustomError("InvalidParameter.ResourceType", "{r!r}: a share holds IPAM pools, named "
                                          "by address (ipam_pool.NAME)", {"r": r})
        for p in self.principals:
            if not (ACCOUNT_RE.match(p) or DIRECTORY_RE.match(p)):
                raise PydanticCustomError("InvalidParameter.Targets", "{p!r} is neither an account id (16 digits) "
                                          "nor a resource directory id (rd-...)", {"p": p})
        for what, items in (("resources", self.resources), ("principals", self.principals)):
            if len(set(items)) != len(items):
                raise PydanticCustomError("Spec.DuplicateName", "{what} lists an item twice", {"what": what})
        return self


class AllocationSpec(_Model):
    """A custom allocation: a block reserved in a pool (data centre, other clouds)."""

    pool: str
    cidr: CidrText | None = None
    mask: int | None = Field(default=None, ge=0, le=128)
    description: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if self.cidr is not None and self.mask is not None:
            raise PydanticCustomError("Spec.Exclusive", "give either cidr or mask, not both")
        return self


class BlockSpec(_Model):
    """A VPC block: ``{pool, mask}``, ``{pool, cidr}``, ``{pool}`` (default mask) or ``{cidr}``."""

    pool: str | None = None
    cidr: CidrText | None = None
    mask: int | None = Field(default=None, ge=0, le=128)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.cidr is not None and self.mask is not None:
            raise PydanticCustomError("Spec.Exclusive", "give either cidr or mask, not both")
        if self.pool is None and self.cidr is None:
            raise PydanticCustomError(
                "MissingParam.CidrOrCidrMask", "a block without a pool needs an explicit cidr"
            )
        return self


class VpcSpec(_Model):
    region: RegionText
    ipv4: BlockSpec
    secondary_cidrs: list[BlockSpec] = Field(default_factory=list)
    ipv6: BlockSpec | None = None
    description: str | None = None


class VSwitchSpec(_Model):
    vpc: str
    zone: str
    cidr: Union[CidrText, MaskRequest]
    ipv6_cidr: Union[CidrText, ReservationSpec, None] = Field(
        default=None, description="The vSwitch's IPv6 /64: {index: N} of the VPC's /56, or a CIDR inside it")
    prefix_reservations: list[CidrText] = Field(
        default_factory=list, description="Blocks reserved for IP prefixes; prefixes then come from them only")
    description: str | None = None


class Spec(_Model):
    """The whole desired state, merged from every file in ``specs/``."""

    ipam: IpamSpec | None = None
    provider: ProviderSpec = Field(default_factory=ProviderSpec)
    backend: BackendSpec = Field(default_factory=BackendSpec,
                                 description="Where the state is kept: local files (default) or PostgreSQL")
    scopes: dict[str, ScopeSpec] = Field(default_factory=dict)
    pools: dict[str, PoolSpec] = Field(default_factory=dict)
    external_pools: dict[str, ExternalPoolSpec] = Field(
        default_factory=dict, description="Pools another workspace (or no workspace) manages, drawn from here")
    allocations: dict[str, AllocationSpec] = Field(default_factory=dict)
    resource_shares: dict[str, ResourceShareSpec] = Field(
        default_factory=dict, description="Pools shared with other accounts (resource sharing)")
    vpcs: dict[str, VpcSpec] = Field(default_factory=dict)
    vswitches: dict[str, VSwitchSpec] = Field(default_factory=dict)
    security_groups: dict[str, SecurityGroupSpec] = Field(default_factory=dict)
    instances: dict[str, InstanceSpec] = Field(default_factory=dict)
    enis: dict[str, EniSpec] = Field(default_factory=dict)
    instance_types: dict[str, InstanceTypeSpec] = Field(
        default_factory=dict, description="Add or override instance types (ENIs and addresses per ENI)")
    imports: dict[str, str] = Field(
        default_factory=dict, alias="import",
        description="Existing cloud resources to adopt: spec address -> id, e.g. {vpc.legacy: vpc-2ze...}")
    monitoring: MonitoringSpec = Field(
        default_factory=MonitoringSpec,
        description="Thresholds `ipamctl report` alerts on (a figure above its threshold) and the history kept")


_KINDS_BY_NAME = ("scopes", "pools", "external_pools", "allocations", "resource_shares", "vpcs", "vswitches", "security_groups", "instances", "enis",
                  "instance_types")
_CODES = {
    "extra_forbidden": "Spec.UnknownKey",
    "missing": "Spec.MissingKey",
    "literal_error": "Spec.InvalidValue",
    "greater_than_equal": "Spec.OutOfRange",
    "less_than_equal": "Spec.OutOfRange",
}
_TYPE_ERRORS = ("_type", "_parsing", "union_tag", "model_attributes_type", "dict_type", "list_type")

KIND_TYPES = {
    "scopes": "ipam_scope",
    "pools": "ipam_pool",
    "allocations": "ipam_pool_allocation",
    "resource_shares": "resource_share",
    "vpcs": "vpc",
    "vswitches": "vswitch",
    "security_groups": "security_group",
    "instances": "instance",
    "enis": "eni",
}


def _address(loc: SpecPath) -> str | None:
    """The resource an error location is about (``ipam`` for the singleton, which has no name)."""
    if not loc:
        return None
    if loc[0] == "ipam":
        return "ipam"
    if loc[0] in KIND_TYPES and len(loc) > 1:
        return address_of(KIND_TYPES[loc[0]], str(loc[1]))
    return None


def _error_code(err: ErrorDetails) -> str:
    etype = err["type"]
    if etype in _CODES:
        return _CODES[etype]
    if "." in etype:  # our own PydanticCustomError codes, e.g. InvalidParameter.CidrNotStandard
        return etype
    if any(etype.endswith(t) for t in _TYPE_ERRORS):
        return "Spec.WrongType"
    return "Spec.Invalid"


def _clean_loc(loc: SpecPath, data: object) -> SpecPath:
    """Drop pydantic's union-branch markers (``str``, ``MaskRequest``, ``function-after[...]``) from
    an error location, walking the document alongside: a part that is a key (or index) of the data
    there is the user's, whatever it looks like (a pool named ``str``, a key ``tags[0]``)."""
    markers = ("str", "int", "MaskRequest", "Count", "ReservationSpec", "none", "function-after")
    node = data
    kept: list[str | int] = []
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(part, str) and (part in markers or "[" in part):
            continue  # a union branch pydantic tried, not a place in the document
        else:
            node = None  # a missing key: kept, and nothing below it exists
        kept.append(part)
    return tuple(kept)


def parse_spec(doc: SpecDocument) -> Spec:
    """Validate a loaded document; every error found is raised, each located at its file:line."""
    problems = Problems(doc.locate, SpecError)
    for kind in _KINDS_BY_NAME:
        for name in doc.data.get(kind, {}) or {}:
            if not isinstance(name, str) or not NAME_RE.match(name):
                problems.add(
                    "Spec.InvalidName",
                    f"{kind} name {name!r} must start with a letter or digit and use only "
                    "letters, digits, '-', '_' and '.' (at most 128 characters)",
                    None,
                    (kind, name),
                )
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as exc:
        seen = set()
        raw = [(_clean_loc(tuple(err["loc"]), doc.data), _error_code(err), err) for err in exc.errors(include_url=False)]
        specific = {loc for loc, code, _ in raw if not code.startswith("Spec.")}
        for loc, code, err in raw:
            if code == "Spec.WrongType" and loc in specific:
                continue  # the other branch of a union (a mask map where a CIDR string failed its check)
            key = (loc, code)
            if key in seen:
                continue
            seen.add(key)
            where = ".".join(str(p) for p in loc)
            msg = err["msg"]
            if code == "Spec.UnknownKey":
                msg = f"unknown key {loc[-1]!r}"
            problems.add(code, f"{where}: {msg}", _address(loc), loc)
        raise_all(problems.errors)
        raise  # pragma: no cover - raise_all always raises when errors were found
    for name in spec.external_pools:
        if name in spec.pools:  # one name, one pool: a block's `pool:` must say which it means
            problems.add("Spec.ExternalPoolName", f"external_pools.{name}: pools.{name} has this name too",
                         address_of("ipam_pool", name), ("external_pools", name))
    raise_all(problems.errors)
    return spec
