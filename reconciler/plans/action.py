"""Planned actions: one API call each (or one block of a batched call), as typed values.

``Action`` is the verb shown in a plan; ``API`` names the Alibaba Cloud operation each (type, verb)
pair calls; ``Draft`` is an action before it has its place in the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable

from reconciler.frozen import fast_init
from reconciler.net.address import ResourceAddress, SpaceKey
from reconciler.net.records import plain as _plain
from reconciler.plans.diff import Attributes, Change


class Action(Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    PROVISION = "provision"
    DEPROVISION = "deprovision"
    ALLOCATE = "allocate"
    RELEASE = "release"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    IMPORT = "import"  # adopt an existing resource into the state: recorded, no API call

    # members are singletons compared by identity: hashed by it too (Enum's own hash is a Python call
    # on the name, and a plan looks members up several times per action)
    __hash__ = object.__hash__


# not a space: marks the update that removes operating regions (ordered after every pool's delete)
REGIONS_REMOVED = SpaceKey("ipam-regions-removed")

DESTROYING = frozenset({Action.DELETE, Action.DEPROVISION, Action.RELEASE, Action.UNASSIGN})
CREATING = frozenset({Action.CREATE, Action.PROVISION, Action.ALLOCATE, Action.ASSIGN})

API = {
    ("ipam", Action.CREATE): "CreateIpam",
    ("ipam", Action.UPDATE): "UpdateIpam",
    ("ipam", Action.DELETE): "DeleteIpam",
    ("ipam_scope", Action.CREATE): "CreateIpamScope",
    ("ipam_scope", Action.UPDATE): "UpdateIpamScope",
    ("ipam_scope", Action.DELETE): "DeleteIpamScope",
    ("ipam_pool", Action.CREATE): "CreateIpamPool",
    ("ipam_pool", Action.UPDATE): "UpdateIpamPool",
    ("ipam_pool", Action.DELETE): "DeleteIpamPool",
    ("ipam_pool", Action.PROVISION): "AddIpamPoolCidr",
    ("ipam_pool", Action.DEPROVISION): "DeleteIpamPoolCidr",
    ("ipam_pool_allocation", Action.ALLOCATE): "CreateIpamPoolAllocation",
    ("ipam_pool_allocation", Action.UPDATE): "UpdateIpamPoolAllocation",
    ("ipam_pool_allocation", Action.RELEASE): "DeleteIpamPoolAllocation",
    ("resource_share", Action.CREATE): "CreateResourceShare",
    ("resource_share", Action.DELETE): "DeleteResourceShare",
    ("vpc", Action.CREATE): "CreateVpc",
    ("vpc", Action.UPDATE): "ModifyVpcAttribute",
    ("vpc", Action.DELETE): "DeleteVpc",
    ("vpc", Action.ALLOCATE): "AssociateVpcCidrBlock",
    ("vpc", Action.RELEASE): "UnassociateVpcCidrBlock",
    ("vswitch", Action.CREATE): "CreateVSwitch",
    ("vswitch", Action.UPDATE): "ModifyVSwitchAttribute",
    ("vswitch", Action.DELETE): "DeleteVSwitch",
    ("vswitch", Action.ALLOCATE): "CreateVSwitchCidrReservation",
    ("vswitch", Action.RELEASE): "DeleteVSwitchCidrReservation",
    ("security_group", Action.CREATE): "CreateSecurityGroup",
    ("security_group", Action.UPDATE): "ModifySecurityGroupAttribute",
    ("security_group", Action.DELETE): "DeleteSecurityGroup",
    ("instance", Action.CREATE): "CreateInstance",
    ("instance", Action.UPDATE): "ModifyInstanceAttribute",
    ("instance", Action.DELETE): "DeleteInstance",
    ("eni", Action.CREATE): "CreateNetworkInterface",
    ("eni", Action.UPDATE): "ModifyNetworkInterfaceAttribute",
    ("eni", Action.DELETE): "DeleteNetworkInterface",
}


@fast_init
@dataclass(frozen=True, slots=True, init=False)
class PlannedAction:
    order: int
    action: Action
    address: ResourceAddress
    type: str
    name: str
    api: str
    cidr: str | None = None
    before: Attributes | None = None
    after: Attributes | None = None
    replace: bool = False  # one half of a replacement
    note: str | None = None  # e.g. how a CIDR was chosen, or what a delete releases

    if TYPE_CHECKING:  # the __init__ fast_init writes (the dataclass makes none: init=False)
        def __init__(self, order: int, action: Action, address: ResourceAddress, type: str, name: str, api: str,
                     cidr: str | None = None, before: Attributes | None = None, after: Attributes | None = None,
                     replace: bool = False, note: str | None = None) -> None: ...

    def to_dict(self, plain: Callable[[Any], Any] = _plain) -> dict[str, Any]:
        """The action as JSON values. ``plain`` copies ``before``/``after`` (read-only views, shared with
        the plan) into plain values; the plan file passes its own converter that shares one copy."""
        return {
            "order": self.order, "action": self.action._value_, "address": self.address, "type": self.type,
            "name": self.name, "cidr": self.cidr, "api": self.api, "before": plain(self.before),
            "after": plain(self.after), "replace": self.replace, "note": self.note,
        }


@dataclass(slots=True, init=False)
class Draft:
    action: Action
    change: Change
    cidr: str | None = None
    before: Attributes | None = None
    after: Attributes | None = None
    note: str | None = None
    sub: int = 0
    space: SpaceKey | None = None  # the space a creating action takes its block from / a destroying one frees
    api: str | None = None  # overrides API[(type, action)] (attach/detach are updates with their own calls)
    phase: str | None = None  # "destroy" / "create" when an update behaves like one for ordering (detach/attach)
    address: ResourceAddress = field(init=False)
    down: bool = field(init=False)  # frees something (ordered like a destroy)
    up: bool = field(init=False)  # takes something (ordered like a create)

    def __init__(self, action: Action, change: Change, cidr: str | None = None, before: Attributes | None = None,
                 after: Attributes | None = None, note: str | None = None, sub: int = 0,
                 space: SpaceKey | None = None, api: str | None = None, phase: str | None = None) -> None:
        # written out (not the dataclass's __init__ and a __post_init__): a cold plan makes one per action
        self.action, self.change, self.cidr, self.before, self.after = action, change, cidr, before, after
        self.note, self.sub, self.space, self.api, self.phase = note, sub, space, api, phase
        self.address = change.address
        if phase:
            self.down, self.up = phase == "destroy", phase == "create"
        else:
            self.down, self.up = action in DESTROYING, action in CREATING


def destroying(d: Draft) -> bool:
    return d.down


def creating(d: Draft) -> bool:
    return d.up
