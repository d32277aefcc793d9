"""``ipamctl sandbox account ...`` and ``ipamctl sandbox directory ...``: the sandbox's accounts, RAM
users and resource directory (:mod:`reconciler.cloud.account_api`, :mod:`reconciler.cloud.share_api`).

Creating an account or a user prints its new key, secret included, on stdout: the only place the
sandbox ever shows a secret (never in a log, a list or an error). Give the pair to the workspace that
acts as that identity (``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET``) against ``ipamctl sandbox serve``.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli import render
from reconciler.cli.files import resolve
from reconciler.errors import CloudError, ReconcilerError
from reconciler.workspace import Workspace


def _sandbox_call(ws: Workspace, action: str, params: dict) -> int:
    try:
        settings = ws.provider_settings(ws.load_specs())
    except ReconcilerError:
        settings = ws.provider_settings(None)
    if settings.get("type") != "sandbox":
        settings = {}  # the workspace's own sandbox database, the one `sandbox serve` serves by default
    cloud = ws.sandbox(settings)
    try:
        response = cloud.call(action, params)
    except CloudError as exc:
        click.echo(render.json_text({"Code": exc.code, "Message": exc.detail}), err=True)
        return 1
    finally:
        cloud.close()
    response.pop("RequestId", None)
    click.echo(render.json_text(response))
    return 0


def account_create(ws: Workspace, *, name: str | None) -> int:
    return _sandbox_call(ws, "SandboxCreateAccount", {"AccountName": name} if name else {})


def account_list(ws: Workspace) -> int:
    return _sandbox_call(ws, "SandboxListAccounts", {})


def user_create(ws: Workspace, *, account: str, user: str, policy: str | None) -> int:
    params = {"AccountId": account, "UserName": user}
    if policy is not None:
        from reconciler.serve.ram import load_policy  # checked as `sandbox serve --policy` checks its file

        path = resolve(ws.root, policy)
        load_policy(path)
        params["PolicyDocument"] = Path(path).read_text()
    return _sandbox_call(ws, "SandboxCreateUser", params)


def directory_create(ws: Workspace, *, master: str) -> int:
    return _sandbox_call(ws, "SandboxCreateResourceDirectory", {"MasterAccountId": master})


def directory_add(ws: Workspace, *, directory: str, account: str) -> int:
    return _sandbox_call(ws, "SandboxAddDirectoryMember", {"ResourceDirectoryId": directory, "AccountId": account})
