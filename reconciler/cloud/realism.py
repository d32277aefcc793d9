"""How closely a sandbox imitates the behaviours of the real cloud that the embedded sandbox leaves
out for speed: a setting of :class:`reconciler.cloud.sandbox.SandboxCloud` (``realism=``), chosen
by ``ipamctl sandbox serve``. The default, :data:`EMBEDDED`, changes nothing.

- ``pending_seconds``: a VPC, a vSwitch and a vSwitch CIDR reservation made while it is above 0
  keep a ready-at time (``_ready_at``, seconds since the epoch) and read as ``Pending`` until then
  (then ``Available``; a reservation shows its own ``Assigned``). Calls that need the resource
  ready are refused meanwhile with the cloud's status codes (see :func:`require_ready`). The
  ready-at time is a fact of the resource: any sandbox that reads it, whatever its setting,
  shows the same status.
- ``max_page``: every list answers at most this many rows a page, whatever MaxResults / PageSize
  asks, so a client must follow NextToken / PageNumber.
- ``require_open_service``: CreateIpam is refused until OpenVpcIpamService was called.

This module imports nothing of the sandbox (the sandbox imports it), so it raises
:class:`CloudError` itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from reconciler.errors import CloudError

READY_AT = "_ready_at"


@dataclass(frozen=True)
class Realism:
    pending_seconds: float = 0.0
    max_page: int | None = None
    require_open_service: bool = False
    # seconds since the epoch; a test may give its own to move time on without sleeping
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.pending_seconds < 0:
            raise ValueError(f"pending_seconds must be >= 0, not {self.pending_seconds}")
        if self.max_page is not None and self.max_page < 1:
            raise ValueError(f"max_page must be >= 1, not {self.max_page}")


EMBEDDED = Realism()


def ready_fields(realism: Realism) -> dict[str, float]:
    """The internal fields a new asynchronous resource gets: its ready-at time, if it has one."""
    if realism.pending_seconds <= 0:
        return {}
    return {READY_AT: realism.clock() + realism.pending_seconds}


def is_pending(realism: Realism, res: Mapping[str, Any]) -> bool:
    at = res.get(READY_AT)
    return at is not None and realism.clock() < float(at)


def shown_status(realism: Realism, res: Mapping[str, Any]) -> str:
    """The Status a read answers: ``Pending`` before the ready-at time, else the stored one."""
    return "Pending" if is_pending(realism, res) else str(res["Status"])


def require_ready(realism: Realism, res: Mapping[str, Any], code: str, label: str) -> None:
    """Refuse (``code``, 400) a call that needs ``res`` ready while it is still Pending."""
    if is_pending(realism, res):
        raise CloudError(code, f"{label} is still Pending (being created); try again when it is Available",
                         http_status=400)


def page_size(realism: Realism, asked: int) -> int:
    """The page size a list uses: what was asked, at most ``max_page``."""
    return asked if realism.max_page is None else min(asked, realism.max_page)
