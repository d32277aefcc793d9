"""One apply's recording of changes: intents before calls, results after them, a snapshot at the end.

Durability contract (the local backend; see docs/reliability.md):

* ``intend`` writes intent lines and fsyncs the journal before returning -- which also makes every
  line written before them durable (results of earlier calls, cancellations). A cloud call is made
  only after its intent is durable.
* ``done`` and ``cancel`` only *write* their line (it survives a killed process at once, a power cut
  once the next ``intend``/``sync``/``commit`` has fsynced). Losing a done line is harmless: its
  intent is then pending and recovery re-issues the call with the same ClientToken.
* ``record`` (one change outside the intent protocol) writes and fsyncs, as before.
* ``commit`` fsyncs the journal, then writes a snapshot of everything so far; intents still pending
  are carried over into the new journal, never dropped.
"""

from __future__ import annotations

from typing import Callable, Iterable

from reconciler.errors import StateError
from reconciler.states.journal import (
    Intent,
    JournalEntry,
    JournalWriter,
    boot_id,
    encode_cancel,
    encode_done_bytes,
    encode_intent,
)
from reconciler.states.state import State, owned_with_bytes


class StateTransaction:
    """Records one apply's changes durably as they complete; ``commit`` folds them into a snapshot.

    ``commit`` may be called more than once (each writes a snapshot of everything so far); leaving
    the ``with`` block commits what is uncommitted, also when an exception escapes (the changes
    happened in the cloud; there is nothing to roll back). A commit failing while another exception
    escapes is added to it as a note; the journal keeps the changes.
    """

    def __init__(self, base: State, journal: JournalWriter, write: Callable[..., None],
                 pending: Iterable[Intent] = (), next_intent: int = 1):
        self._state = base
        self._journal = journal
        self._write = write
        self._pending = 0  # changes not in a snapshot yet
        self._unsynced = False  # lines written since the last fsync or snapshot
        self._intents: dict[int, Intent] = {i.n: i for i in pending}
        self._next = max([next_intent, *(n + 1 for n in self._intents)])
        self._closed = False

    @property
    def state(self) -> State:
        return self._state

    @property
    def pending_intents(self) -> list[Intent]:
        """Intents whose call may have happened and whose result is not recorded, in order."""
        return [self._intents[n] for n in sorted(self._intents)]

    def _check_open(self, address: str | None = None) -> None:
        if self._closed:
            raise StateError("State.TransactionClosed", "the transaction has ended; start a new one", address=address)

    def record(self, address: str, record: dict | None) -> State:
        self._check_open(address)
        new = self._state.with_change(address, record)
        owned = new.resources.get(address)
        self._journal.append(JournalEntry(new.lineage, new.serial, address, owned))
        self._state, self._pending, self._unsynced = new, self._pending + 1, False
        return new

    def intend(self, calls: list[tuple[str, str, list[dict], dict]]) -> list[Intent]:
        """Durably note that each call (token, api, action dicts, provider settings) is about to be made.

        One write and one fsync for all of them (and for every line written before). On failure
        (``State.WriteFailed``) none of them is noted and none may be made."""
        self._check_open()
        boot = boot_id()
        made = [Intent(self._next + i, self._state.lineage, token, api, tuple(actions), dict(provider), boot)
                for i, (token, api, actions, provider) in enumerate(calls)]
        data = b"".join(encode_intent(i) for i in made)
        try:
            self._journal.write(data, sync=True, what=f"the intent of {len(made)} call(s)")
        except StateError as exc:
            raise StateError(exc.code, f"{exc.detail}; the call was NOT made", address=made[0].actions[0]["address"]
                             if made else None) from exc
        self._next += len(made)
        self._intents.update((i.n, i) for i in made)
        self._unsynced = False
        return made

    def done(self, intent: Intent, updates: dict[str, dict | None]) -> State:
        """The call of ``intent`` succeeded and produced ``updates``: record them (written, not fsynced)."""
        self._check_open()
        new, changes = self._state, []
        for address, record in sorted(updates.items()):
            if record is None:
                owned, data = None, b"null"
            else:  # one serialisation gives both the private copy and the journal's bytes
                owned, data = owned_with_bytes(address, record)
            new = new.with_owned(address, owned)
            changes.append((address, data))
        try:
            self._journal.write(encode_done_bytes(new.lineage, intent.n, new.serial, changes),
                                what=f"the result of {intent.api} ({intent.actions[0]['address']})",
                                address=intent.actions[0]["address"])
        except StateError as exc:
            raise StateError(exc.code, f"{exc.detail}. The call WAS carried out; its intent is on disk, so the next "
                             "`ipamctl apply` re-issues it with the same ClientToken and records the result",
                             address=exc.address) from exc
        self._intents.pop(intent.n, None)
        self._state, self._pending, self._unsynced = new, self._pending + len(changes), True
        return new

    def cancel(self, intents: list[Intent], reason: str) -> None:
        """These intents' calls were not carried out and will not be (written, not fsynced)."""
        self._check_open()
        ns = [i.n for i in intents if i.n in self._intents]
        if not ns:
            return
        self._journal.write(encode_cancel(self._state.lineage, ns, reason), what="a cancellation")
        for n in ns:
            del self._intents[n]
        self._unsynced = True

    def sync(self) -> None:
        """Make every line written so far durable."""
        if self._unsynced:
            self._journal.sync()
            self._unsynced = False

    def commit(self) -> State:
        self.sync()
        if self._pending:
            self._journal.close()  # the write replaces the file; the next line starts a new one
            self._write(self._state, keep_intents=self.pending_intents)
            self._journal, self._pending = self._journal.reopened(), 0
        return self._state

    def __enter__(self) -> "StateTransaction":
        return self

    def close(self) -> None:
        """End the transaction without committing (what is recorded stays in the journal)."""
        self._journal.close()
        self._closed = True

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self._closed:
            return
        try:
            self.commit()
        except StateError as failure:
            if exc is None:
                raise
            exc.add_note(f"and the state snapshot could not be written: {failure}")
        finally:
            self.close()
