"""``ipamctl fmt [--check]``: rewrite the YAML spec files in the canonical layout (reconciler/models/layout.py).

``--check`` writes nothing and exits 1 when a file is not in the layout (naming each), for a
pull-request check. JSON spec files are left as they are. A file is replaced atomically (a temp
file in its folder, then a rename), so an interrupted fmt leaves each file whole.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import click

from reconciler.errors import ReconcilerError, SpecError, raise_all
from reconciler.source.files import spec_paths
from reconciler.models.layout import format_text
from reconciler.workspace import Workspace


def fmt(ws: Workspace, *, check: bool) -> int:
    errors: list[ReconcilerError] = []
    changed: list[str] = []
    for shown, path in spec_paths(ws.specs_dir, ws.root, errors):
        if not path.name.lower().endswith((".yaml", ".yml")):
            continue
        try:
            text = path.read_text(encoding="utf-8")
            out = format_text(text, shown)
        except UnicodeDecodeError:
            errors.append(SpecError("Spec.Encoding", "not UTF-8 text; fmt leaves it as it is", file=shown))
            continue
        except ReconcilerError as exc:
            errors.append(exc)
            continue
        if out != text:
            changed.append(shown)
            if not check:
                _replace(path, out)
    raise_all(errors)
    if check:
        for shown in changed:
            click.echo(f"{shown}: not in the canonical layout (run `ipamctl fmt`)")
        return 1 if changed else 0
    for shown in changed:
        click.echo(f"{shown}: formatted")
    return 0


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SpecError("Spec.WriteFailed", f"cannot rewrite the file: {exc.strerror or exc}; it is unchanged",
                        file=str(path)) from None
