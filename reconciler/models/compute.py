"""Spec models for the compute layer: security groups, instances, ENIs, and instance-type overrides.

An ENI's addresses are given either as a list (exact addresses or blocks) or as ``{count: N}``
(the lowest free ones, chosen at plan time); the two forms are exclusive per field. Counts are
bounded here so a hostile ``{count: 1000000}`` is refused before anything is allocated; the
cloud's tighter per-ENI limits are checked by :mod:`reconciler.rules.compute`.
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from reconciler.net.cidr import Cidr, CidrSyntaxError, parse_address

MAX_COUNT = 65536  # no ENI holds more; the real limits are far lower and checked as rules


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Count(_Model):
    """``{count: N}``: the N lowest free addresses or blocks, chosen at plan time."""

    count: int = Field(ge=0, le=MAX_COUNT)


def _address(value: str, version: int | None = None) -> str:
    try:
        v, n = parse_address(value)
    except CidrSyntaxError as exc:
        raise PydanticCustomError(exc.code, "{rule}", {"rule": str(exc)}) from None
    if version is not None and v != version:
        raise PydanticCustomError("InvalidParameter.IpVersion", f"{value} is not an IPv{version} address")
    return str(Cidr(v, n, 32 if v == 4 else 128)).split("/")[0]


def _prefix(value: str, length: int) -> str:
    try:
        block = Cidr.parse(value)
    except CidrSyntaxError as exc:
        raise PydanticCustomError(exc.code, "{rule}", {"rule": str(exc)}) from None
    if block.prefix != length:
        code = "InvalidParameter.Ipv4Prefix" if length == 28 else "InvalidParameter.Ipv6Prefix"
        raise PydanticCustomError(code, f"{value}: an IPv{block.version} prefix is a /{length}")
    return str(block)


AddressList = Union[list[str], Count]


class AddressSet(_Model):
    """The addresses and prefixes one ENI holds (shared by ENIs and an instance's primary ENI)."""

    primary_ip: str | None = None
    secondary_private_ips: AddressList | None = None
    ipv4_prefixes: AddressList | None = None
    ipv6_addresses: AddressList | None = None
    ipv6_prefixes: AddressList | None = None

    @field_validator("primary_ip")
    @classmethod
    def _primary(cls, v: str | None) -> str | None:
        return v if v is None else _address(v, 4)

    @field_validator("secondary_private_ips")
    @classmethod
    def _secondary(cls, v: AddressList | None) -> AddressList | None:
        return [_address(a, 4) for a in v] if isinstance(v, list) else v

    @field_validator("ipv6_addresses")
    @classmethod
    def _v6(cls, v: AddressList | None) -> AddressList | None:
        return [_address(a, 6) for a in v] if isinstance(v, list) else v

    @field_validator("ipv4_prefixes")
    @classmethod
    def _p4(cls, v: AddressList | None) -> AddressList | None:
        return [_prefix(a, 28) for a in v] if isinstance(v, list) else v

    @field_validator("ipv6_prefixes")
    @classmethod
    def _p6(cls, v: AddressList | None) -> AddressList | None:
        return [_prefix(a, 80) for a in v] if isinstance(v, list) else v


class SecurityGroupSpec(_Model):
    vpc: str
    type: Literal["basic", "advanced"] = "basic"
    description: str | None = None


class InstanceSpec(AddressSet):
    """An ECS instance; the address fields describe its primary ENI (``eni.<name>-primary``)."""

    instance_type: str
    vswitch: str
    security_group: str | None = None
    status: Literal["Running", "Stopped"] = "Running"
    description: str | None = None


class EniSpec(AddressSet):
    vswitch: str | None = None
    security_group: str | None = None
    instance: str | None = Field(default=None, description="Attach to this instance (InUse); omit for Available")
    id: str | None = Field(default=None, description="An existing ENI's id (with managed: true)")
    managed: bool = Field(default=False, description="Created and controlled by a cloud service; never changed")
    description: str | None = None


class InstanceTypeSpec(_Model):
    eni_quantity: int = Field(ge=1, le=1024)
    ipv4_per_eni: int = Field(ge=1, le=65536)
    ipv6_per_eni: int = Field(ge=0, le=65536)


class ReservationSpec(_Model):
    """A vSwitch's IPv6 /64: ``{index: N}`` of the VPC's /56, or an explicit CIDR (in VSwitchSpec)."""

    index: int = Field(ge=0, le=255)
