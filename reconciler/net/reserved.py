"""A block another plan has reserved in a pool: the value the allocator skips.

Reservations are kept by a shared state backend (a table of the PostgreSQL backend): ``plan --out``
or ``plan --reserve`` in one workspace records the blocks it chose, and every other plan, in any
workspace on the same backend, must not choose them. The edge (reconciler/workspace.py) reads the
live reservations of the other workspaces and names each by the spec name of its pool here; the
core reads no clock, so ``until`` is the expiry as text, for the plan's notes.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.net.cidr import Cidr


@dataclass(frozen=True, order=True)
class ReservedBlock:
    pool: str  # the spec name of the pool the block is reserved in
    cidr: Cidr
    workspace: str  # the workspace whose plan reserved it
    until: str  # when the reservation expires (ISO 8601, UTC)

    @property
    def holder(self) -> str:
        """How the allocator and the plan's notes name it."""
        return f"the reservation of workspace {self.workspace} (until {self.until})"
