"""``ipamctl state ...``: the recorded state, address by address, its kept versions, and moving it.

* ``list``, ``show ADDRESS [--serial N]``: the state (or a kept older version) address by address;
* ``history``: every version the backend keeps (postgres: all; local: the snapshot and its backup);
* ``pull [--serial N]``: the state as JSON on stdout; ``push FILE [--force]``: write a state file as
  the new version -- refused when it goes back (a lower or the same serial) or belongs to another
  lineage, unless ``--force``;
* ``migrate --to configured|local``: copy the local state (its versions and pending intents) into
  the backend the ``backend:`` block configures, or back. Refused when the target holds another
  lineage or a newer serial; nothing is done when it already holds the same state. The source is
  left as it was.

Every command that writes holds the lock of the backend it writes (both backends' for migrate).
"""

from __future__ import annotations

import sys
from contextlib import ExitStack

import click

from reconciler.cli import render
from reconciler.cli.files import resolve
from reconciler.cli.refresh import no_recovery_pending
from reconciler.errors import StateError
from reconciler.states.backend import StateBackend
from reconciler.states.local import LocalStateBackend
from reconciler.states.state import State, parse_state
from reconciler.workspace import Workspace


def _read(ws: Workspace, serial: int | None) -> State:
    return ws.read_state() if serial is None else ws.backend().read_version(serial)


def state_list(ws: Workspace) -> int:
    state = ws.read_state()
    for address in sorted(state.resources, key=render.state_key):
        click.echo(address)
    return 0


def state_show(ws: Workspace, *, address: str, serial: int | None = None) -> int:
    state = _read(ws, serial)
    if address not in state.resources:
        at = f" at serial {serial}" if serial is not None else ""
        raise StateError("State.NoSuchResource", f"{address} is not in the state{at} (see `ipamctl state list`)",
                         address=address)
    click.echo(render.render_record(address, state.resources[address]), nl=False)
    return 0


def state_history(ws: Workspace, *, as_json: bool) -> int:
    backend = ws.backend()
    versions = backend.versions()
    if as_json:
        click.echo(render.json_text({"backend": backend.description, "versions": [
            {"serial": v.serial, "lineage": v.lineage, "created": v.created, "resources": v.resources,
             "checksum": v.checksum, "current": v.current, "version": v.version} for v in versions]}))
        return 0
    if not versions:
        click.echo(f"No state has been written to {backend.description} yet.")
        return 0
    click.echo(f"Versions kept in {backend.description}, oldest first:")
    for v in versions:
        number = f"version {v.version:>4}  " if v.version is not None else ""
        mark = "  (current)" if v.current else ""
        click.echo(f"  {number}serial {v.serial:>5}  {v.created or '-':20}  {v.resources:>6} resource(s)  "
                   f"lineage {v.lineage}{mark}")
    return 0


def state_pull(ws: Workspace, *, serial: int | None) -> int:
    click.echo(_read(ws, serial).to_json_bytes(), nl=False)
    return 0


def state_push(ws: Workspace, *, path: str, force: bool, lock_timeout: float) -> int:
    if path == "-":
        data, name = sys.stdin.buffer.read(), "standard input"
    else:
        file = resolve(ws.root, path)
        try:
            data, name = file.read_bytes(), str(path)
        except OSError as exc:
            raise StateError("State.ReadFailed", f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        new = parse_state(data)
    except ValueError as exc:
        raise StateError("State.InvalidFile", f"{name} is not a state file: {exc}") from None
    backend = ws.backend()
    with backend.lock("state push", timeout=lock_timeout):
        no_recovery_pending(backend)
        current = backend.read()
        if backend.has_snapshot():
            if _same(current, new):
                click.echo(f"{backend.description} already holds this state (serial {new.serial}); nothing written.")
                return 0
            if not force:
                _refuse_going_back(current, new, backend.description, "push --force")
        backend.write(new)
    click.echo(f"Pushed serial {new.serial} ({len(new.resources)} resource(s), lineage {new.lineage}) to "
               f"{backend.description}.")
    return 0


def _same(a: State, b: State) -> bool:
    return (a.lineage, a.serial) == (b.lineage, b.serial) and a.resources == b.resources


def _refuse_going_back(current: State, new: State, where: str, override: str) -> None:
    if new.lineage != current.lineage:
        raise StateError("State.LineageMismatch", f"{where} holds lineage {current.lineage}, the new state lineage "
                         f"{new.lineage}: it belongs to another workspace history (`ipamctl state {override}` "
                         "replaces it anyway)")
    if new.serial <= current.serial:
        raise StateError("State.SerialLower" if new.serial < current.serial else "State.SerialConflict",
                         f"{where} is at serial {current.serial}, the new state at serial {new.serial}: writing it "
                         f"would go back or fork the history (`ipamctl state {override}` writes it anyway)")


def state_migrate(ws: Workspace, *, to: str, lock_timeout: float) -> int:
    ws.load_specs()  # the configured backend must be known for sure: a spec that does not load is an error
    configured, local = ws.backend(), ws.local_backend()
    if isinstance(configured, LocalStateBackend):
        raise StateError("State.NothingToMigrate", "the configured backend is the local one (no `backend:` block, "
                         "or type local); add `backend: {type: postgres, workspace: NAME}` to the specs first")
    source, target = (local, configured) if to == "configured" else (configured, local)
    with ExitStack() as stack:  # the local lock first, always: two migrations never wait on each other
        stack.enter_context(local.lock("state migrate", timeout=lock_timeout))
        stack.enter_context(configured.lock("state migrate", timeout=lock_timeout))
        moved = copy_state(source, target)
    if moved is None:
        click.echo(f"{target.description} already holds the state of {source.description}; nothing to do.")
        return 0
    state, earlier, pending = moved
    extra = "".join([f", {earlier} earlier version(s)" if earlier else "",
                     f", {pending} pending intent(s) of an interrupted apply" if pending else ""])
    click.echo(f"Copied serial {state.serial} ({len(state.resources)} resource(s){extra}) from "
               f"{source.description} to {target.description}. The source is left as it was.")
    if to == "local":
        click.echo("The specs' `backend:` block still names the postgres backend: remove it (or set type: local) "
                   "for commands to use the local state.")
    return 0


def copy_state(source: StateBackend, target: StateBackend) -> tuple[State, int, int] | None:
    """Copy ``source``'s state, the versions before it that the target lacks, and its pending intents
    into ``target`` (both locked). None when the target holds the same state already."""
    state, pending = source.read_with_intents()
    if not source.has_snapshot():
        raise StateError("State.NothingToMigrate", f"{source.description} holds no state yet; nothing to copy")
    older = [v.serial for v in source.versions() if not v.current and v.lineage == state.lineage
             and v.serial < state.serial]
    if target.has_snapshot():
        there, waiting = target.read_with_intents()
        if there.lineage != state.lineage:
            raise StateError("State.LineageMismatch", f"{target.description} holds a state of lineage "
                             f"{there.lineage}, {source.description} one of lineage {state.lineage}: they are "
                             "different workspace histories; nothing was copied")
        if waiting:
            raise StateError("State.RecoveryPending", f"{target.description} has calls in flight of an interrupted "
                             "apply; run `ipamctl apply` where they were made first; nothing was copied")
        if _same(there, state) and not pending:
            return None
        if there.serial > state.serial or there.serial == state.serial and not _same(there, state):
            raise StateError("State.SerialConflict", f"{target.description} is at serial {there.serial}, "
                             f"{source.description} at serial {state.serial}: the target has moved on (or forked); "
                             "nothing was copied")
        older = [s for s in older if s > there.serial]
    for serial in sorted(set(older)):
        target.write(source.read_version(serial), keep_intents=[])
    target.write(state, keep_intents=pending)
    return state, len(set(older)), len(pending)
