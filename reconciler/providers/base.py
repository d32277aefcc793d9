"""What a provider is: the edge through which apply (and, later, refresh and discovery) reaches a cloud.

Planning never calls a provider. A provider executes one planned action at a time and answers with
the state records that action produced, so apply can record exactly what exists after every step.
The embedded sandbox and the future Alibaba Cloud SDK provider implement the same protocol; both go
through :class:`reconciler.providers.alibaba.ApiProvider`, which maps actions to Alibaba API calls
over any client with a ``call(action, params) -> dict`` method.
"""

from __future__ import annotations

from typing import Mapping, Protocol

from reconciler.errors import CloudError
from reconciler.net.cidr import Cidr
from reconciler.plans.order import PlannedAction


class ApiClient(Protocol):
    """One Alibaba Cloud API endpoint: ``call("CreateVpc", {"RegionId": ..., ...})``.

    Parameters and responses are in the RPC wire form (flat keys, lists as ``Name.N``). Failures
    raise :class:`reconciler.errors.CloudError` with the cloud's code.
    """

    def call(self, action: str, params: Mapping[str, object]) -> dict: ...


class Provider(Protocol):
    name: str

    @property
    def ipv6_supply(self) -> Cidr:
        """The block public IPv6 top-level pools are carved from (pure data; the planner predicts with it)."""

    def execute(self, action: PlannedAction, resources: Mapping[str, dict], token: str) -> dict[str, dict | None]:
        """Carry out one action; return the records it changed (address -> record, or None when gone)."""

    def close(self) -> None: ...


class PartialStep(Exception):
    """A step that changed the cloud but did not go as planned: record ``updates``, then fail."""

    def __init__(self, updates: dict, error: CloudError):
        self.updates, self.error = updates, error
        super().__init__(str(error))
