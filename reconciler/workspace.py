"""A workspace on disk: ``specs/`` (desired state), ``state/`` (recorded state, lock, sandbox).

This is an edge module: it reads files and opens the provider, then hands plain values to the
pure core (:mod:`reconciler.planner`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from reconciler.cloud.sandbox import SandboxCloud
from reconciler.cloud.store import read_only
from reconciler.errors import ReconcilerError, SpecError
from reconciler.models.backend import BackendSpec, backend_spec
from reconciler.providers.alibaba import ApiProvider
from reconciler.providers.sdk import SdkClient, SdkSettings
from reconciler.source.loader import SpecDocument, load_specs
from reconciler.states.backend import StateBackend
from reconciler.states.local import BACKUP, DAMAGED, JOURNAL, LINEAGE, LOCK, SNAPSHOT, LocalStateBackend
from reconciler.states.state import State

DEFAULT_SANDBOX = "state/sandbox.db"
STATE_FILES = frozenset({SNAPSHOT, BACKUP, DAMAGED, JOURNAL, LOCK, LINEAGE})  # never a sandbox database
PG_CONN_STR = "PG_CONN_STR"  # the postgres backend's connection when the spec gives no conn_str


@dataclass(frozen=True)
class Workspace:
    root: Path
    # What a command made from this workspace, kept until the process ends: a large plan is hundreds
    # of megabytes of small objects, and ``ipamctl`` leaves with os._exit (cli/entry.py) rather than
    # free them one by one when the command function returns.
    held: list[object] = field(default_factory=list, compare=False, repr=False)
    # What one command read once and uses many times: the loaded specs (or why they did not load)
    # and the state backend they configure (one database connection per command, not per call).
    _cache: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def keep(self, *values: object) -> None:
        self.held.extend(values)

    @property
    def read_outside(self) -> bool:
        """Whether a plan-time read went outside this workspace's ``specs/`` and ``state/`` files (the
        cloud, a sandbox database elsewhere, other workspaces' states): such a plan is not memoized."""
        return bool(self._cache.get("read_outside"))

    def _reading_outside(self, settings: Mapping | None) -> None:
        if settings is not None and _provider_type(settings) == "sandbox":
            path = self.sandbox_path(settings)
            if self.state_dir.resolve() in path.parents:
                return  # (the sandbox in state/: its bytes are part of the memo's key)
        self._cache["read_outside"] = True

    @property
    def specs_dir(self) -> Path:
        return self.root / "specs"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    def load_specs(self) -> SpecDocument:
        """The specs, loaded once per Workspace (a failure to load is kept and raised again)."""
        loaded = self._cache.get("specs")
        if loaded is None:
            try:
                loaded = load_specs(self.specs_dir, display_base=self.root)
            except ReconcilerError as exc:
                loaded = exc
            self._cache["specs"] = loaded
        if isinstance(loaded, ReconcilerError):
            raise loaded
        return loaded  # type: ignore[return-value]  # only a SpecDocument or an error is kept

    def backend(self) -> StateBackend:
        """The state backend the specs' ``backend:`` block configures (local files by default). When the
        specs cannot be read at all, the local backend: ``force-unlock``, ``show`` and ``state`` keep
        working on a broken spec. A ``backend:`` block that is itself invalid is an error."""
        kept = self._cache.get("backend")
        if kept is None:
            try:
                doc: SpecDocument | None = self.load_specs()
            except ReconcilerError:
                doc = None
            kept = self._cache["backend"] = self.configured_backend(doc)
        return kept  # type: ignore[return-value]  # only a backend is kept here

    def configured_backend(self, doc: SpecDocument | None) -> StateBackend:
        spec = backend_spec(doc) if doc is not None else BackendSpec()
        if spec.type == "local":
            return self.local_backend()
        from reconciler.states.postgres import PostgresStateBackend  # psycopg is loaded only when used

        conninfo = spec.conn_str if spec.conn_str is not None else os.environ.get(PG_CONN_STR, "")
        return PostgresStateBackend(conninfo, str(spec.workspace), spec.schema_)

    def local_backend(self) -> LocalStateBackend:
        return LocalStateBackend(self.state_dir)

    def read_state(self) -> State:
        return self.backend().read()

    def provider_settings(self, doc: SpecDocument | None) -> dict:
        settings = dict((doc.data.get("provider") if doc else None) or {})
        settings.setdefault("type", "sandbox")
        settings.setdefault("path", DEFAULT_SANDBOX)
        return settings

    def sandbox_path(self, settings: Mapping) -> Path:
        path = Path(str(settings.get("path") or DEFAULT_SANDBOX))
        resolved = (self.root / path).resolve()
        root = self.root.resolve()
        if resolved != root and root not in resolved.parents:
            raise SpecError("Spec.ProviderPath", f"the sandbox database {path} must stay inside the workspace")
        if resolved.parent == self.state_dir.resolve() and resolved.name in STATE_FILES:
            raise SpecError("Spec.ProviderPath", f"the sandbox database {path} is one of the state's own files "
                            f"({', '.join(sorted(STATE_FILES))}); give it a path of its own, e.g. {DEFAULT_SANDBOX}")
        if resolved.is_dir():
            raise SpecError("Spec.ProviderPath", f"the sandbox database {path} is a folder; give a file path, "
                            f"e.g. {DEFAULT_SANDBOX}")
        return resolved

    def sandbox(self, settings: Mapping | None = None) -> SandboxCloud:
        path = self.sandbox_path(settings or {})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpecError("Spec.ProviderPath", f"cannot create the folder of the sandbox database {path}: "
                            f"{exc.strerror or exc}") from None
        return SandboxCloud(path)

    def ipv6_supply(self, settings: Mapping):
        return SandboxCloud.IPV6_SUPPLY

    def read_managed_enis(self, doc: SpecDocument, resources: Mapping[str, dict], settings: Mapping) -> dict:
        """Managed ENIs are read from the cloud at plan time (like data sources); never changed."""
        wanted = managed_eni_ids(doc)
        if not wanted:
            return {}
        provider = ApiProvider(self.cloud_reader(settings), name=str(settings.get("type", "sandbox")),
                               ipv6_supply=self.ipv6_supply(settings))
        try:
            return provider.read_enis(wanted, resources)
        finally:
            provider.close()

    def cloud_reader(self, settings: Mapping):
        """A client for reading the cloud (``call(action, params)``, ``close()``). A sandbox that was
        never created reads as an empty cloud, and reading creates nothing."""
        self._reading_outside(settings)
        if _provider_type(settings) == "alibaba":
            return sdk_client(settings)
        path = self.sandbox_path(settings)
        return SandboxCloud(read_only(path) if path.is_file() else None)

    def read_discovered(self, doc: SpecDocument, settings: Mapping) -> tuple:
        """The CIDRs resource discovery finds in the spec's IPAM operating regions, and the IPAMs managed
        in those regions (``KnownIpam``: the one-IPAM-per-region quota), read at plan time like managed
        ENIs; nothing when the spec has no IPAM or there is no cloud yet."""
        from reconciler.observe.discovery import discover, known_ipams, list_ipams

        ipam = doc.data.get("ipam") if isinstance(doc.data, dict) else None
        if not isinstance(ipam, dict):
            return ()
        regions = sorted(_ipam_regions(ipam))
        kind = settings.get("type", "sandbox")
        if not regions or kind not in ("sandbox", "alibaba"):
            return ()  # (an unknown provider type: the spec's validation reports it, with its line)
        if kind == "sandbox" and not self.sandbox_path(settings).is_file():
            return ()
        client = self.cloud_reader(settings)
        try:
            ipams = list_ipams(client, regions)
            return (*discover(client, regions, ipams), *known_ipams(ipams))
        finally:
            client.close()

    def read_external_pools(self, doc: SpecDocument, settings: Mapping) -> dict:
        """The spec's ``external_pools:`` as the owner workspaces' states and the cloud hold them (plan time)."""
        from reconciler.observe.external import declared, read_external_pools

        if not declared(doc):
            return {}
        self._reading_outside(None)
        return read_external_pools(doc, self.backend(), lambda: self.cloud_reader(settings))

    def read_imports(self, doc: SpecDocument, resources: Mapping[str, dict], settings: Mapping) -> dict:
        """Records of the cloud resources the spec's ``import:`` block adopts and the state does not
        hold yet, by spec address (read at plan time)."""
        from reconciler.observe.imports import read_imports
        from reconciler.rules.imports import spec_imports

        wanted = spec_imports(doc, resources)  # type: ignore[arg-type]  # the state's keys are addresses
        if not wanted:
            return {}
        client = self.cloud_reader(settings)
        try:
            return read_imports(client, doc, resources, wanted)
        finally:
            client.close()

    def provider(self, settings: Mapping) -> ApiProvider:
        if _provider_type(settings) == "alibaba":
            return ApiProvider(sdk_client(settings), name="alibaba", ipv6_supply=self.ipv6_supply(settings),
                               retries=int(settings.get("retries", 4)), wait_timeout=float(settings.get("wait_timeout", 600)),
                               open_service=True)
        return ApiProvider(self.sandbox(settings), name="sandbox", ipv6_supply=SandboxCloud.IPV6_SUPPLY)


def _provider_type(settings: Mapping) -> str:
    kind = settings.get("type", "sandbox")
    if kind not in ("sandbox", "alibaba"):
        raise SpecError("Spec.Provider", f"provider type {kind!r} is not one of sandbox, alibaba")
    return str(kind)


def sdk_client(settings: Mapping) -> SdkClient:
    """The official SDKs' client for ``provider: {type: alibaba, ...}`` (credentials: the SDK's chain)."""
    return SdkClient(SdkSettings.of(settings))


def managed_eni_ids(doc: SpecDocument) -> dict[str, str]:
    """Spec address -> id of every managed ENI the spec refers to (read raw: before validation)."""
    enis = doc.data.get("enis") if isinstance(doc.data, dict) else None
    out = {}
    for name, body in (enis.items() if isinstance(enis, dict) else ()):
        if isinstance(body, dict) and body.get("managed") is True and isinstance(body.get("id"), str):
            out[f"eni.{name}"] = body["id"]
    return out


def _ipam_regions(ipam: dict) -> set[str]:
    """The managed and operating regions of a raw ``ipam:`` block (strings only, at most 64)."""
    regions = ipam.get("operating_regions")
    found = [ipam.get("region"), *(regions if isinstance(regions, list) else ())]
    return set(sorted({r for r in found if isinstance(r, str) and 0 < len(r) < 64})[:64])


def plan_lineage(state: State) -> str | None:
    """The lineage a plan made against ``state`` carries. A state never written whose lineage is kept
    nowhere (no ``state/lineage`` yet, see ``LocalStateBackend.fix_lineage``) has none; a plan made
    against it says so, and no apply accepts it."""
    kept = state.lineage_kept or state.serial or state.resources
    return state.lineage if kept else None
