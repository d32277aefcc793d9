"""A snapshot plus the journal's changes after it: what both backends read as the state."""

from __future__ import annotations

from reconciler.states.journal import JournalEntry
from reconciler.states.state import State, StateBuilder


def replay(snapshot: State, entries: list[JournalEntry]) -> State | str:
    """Snapshot plus the entries after its serial (those up to it are in it already), or what is wrong."""
    first = entries[0].serial
    if first > snapshot.serial + 1:
        return f"it starts at serial {first} but the snapshot is at serial {snapshot.serial}"
    builder = StateBuilder(snapshot)
    for offset, entry in enumerate(entries):
        if entry.lineage != snapshot.lineage:
            return f"line {offset + 1} has lineage {entry.lineage}, the snapshot {snapshot.lineage}"
        if entry.serial != first + offset:
            return f"line {offset + 1} has serial {entry.serial}, expected {first + offset}"
        if entry.serial > snapshot.serial:
            builder.set(entry.address, entry.record, owned=True)
    return builder.build()
