"""The served sandbox behind the HTTP plumbing: one request in, one response out.

Each request goes through, in order: the signature (:mod:`reconciler.serve.signature`), the
operation and its API version (``InvalidAction.NotFound`` 404, also for the sandbox's in-process
account operations; ``InvalidVersion`` 400 when the version is not the operation's product's), the
caller (the serve key is the default account's root; a key ``ipamctl sandbox account`` issued is its
account's root or RAM user), the throttle (``Throttling.User`` 400, a token bucket
per access key: ``rate`` calls a second, bursts of ``max(rate, 1)``), the RAM policy
(:mod:`reconciler.serve.ram`: ``--policy`` for the serve key, a RAM user's own policy for its key),
then the one shared :class:`SandboxCloud`, under a lock, acting as the caller's account. Every
sandbox refusal keeps its code and HTTP status; anything unexpected is ``InternalError`` (500) and
the server goes on.

The database may be written by other processes (``ipamctl sandbox call``): before each call the
store's ``PRAGMA data_version`` says whether another connection committed, and the sandbox is then
reopened, so no answer comes from a stale copy; a commit racing such a write is refused by the store
(``OperationConflict``) and the call is run once more on a fresh copy.

With a log file, every request appends one JSON line: time, method, action, version, auth_action
(``ns:Action``), access_key_id (never a secret), code (``OK`` or the error code), status, request_id.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Callable

import orjson

from reconciler.cloud.realism import EMBEDDED, Realism
from reconciler.cloud.account_api import ADMIN_ACTIONS, key_of
from reconciler.cloud.sandbox import OPERATIONS, ROOT, Caller, SandboxCloud, load_operations
from reconciler.errors import CloudError, ReconcilerError
from reconciler.serve import wire
from reconciler.serve.ram import NOTHING, Denied, Policy, auth_action, parse_policy
from reconciler.serve.signature import AccessKey, Verifier

log = logging.getLogger(__name__)
THROTTLED = "Request was denied due to user flow control."
INTERNAL = "The request processing has failed due to some unknown error, exception or failure."


@dataclass(frozen=True)
class Options:
    """What ``ipamctl sandbox serve`` can switch on; the defaults behave as the embedded sandbox."""

    realism: Realism = EMBEDDED
    throttle: float | None = None  # calls a second per access key
    policy: Policy | None = None
    log: Path | None = None  # one JSON line per call


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    request_id: str


class TokenBucket:
    """``rate`` tokens a second per key, at most ``max(rate, 1)`` kept; a call takes one."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError(f"a throttle rate is > 0 calls a second, not {rate}")
        self.rate, self.burst, self._clock = rate, max(rate, 1.0), clock
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        with self._lock:
            now = self._clock()
            tokens, then = self._state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            ok = tokens >= 1.0
            self._state[key] = (tokens - 1.0 if ok else tokens, now)
            return ok


class Service:
    """The sandbox database ``db`` answering requests signed with ``key`` (see the module doc)."""

    def __init__(self, db: str | Path, key: AccessKey, options: Options = Options(), *,
                 clock: Callable[[], float] = time.time):
        load_operations()
        self.db, self.options, self.key = Path(db), options, key
        self.verifier = Verifier({key.id: key}, clock=clock, lookup=self._issued_key)
        self.bucket = TokenBucket(options.throttle) if options.throttle else None
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._log: IO[bytes] | None = _open_log(options.log) if options.log else None
        try:
            self._cloud: SandboxCloud | None = self._open()
        except BaseException:
            self._close_log()
            raise

    # ---- the request ----------------------------------------------------------------------
    def handle(self, req: wire.HttpRequest, host: str) -> Response:
        rid = wire.request_id()
        entry: dict[str, object] = {"method": req.method, "action": None, "version": None, "auth_action": None,
                                    "access_key_id": None}
        version = None
        try:
            entry["access_key_id"] = self.verifier.claimed_key(req)  # logged even when it proves wrong
            verified = self.verifier.verify(req)
            entry["access_key_id"] = verified.access_key_id
            call = wire.call_of(req, verified.classic)
            entry["action"], entry["version"] = call.action, call.version
            version = call.version
            caller, policy = self._caller(verified.access_key_id)
            self._check(call, verified.access_key_id, entry, caller, policy)
            answer = self._call(call, caller)
            rid = str(answer.get("RequestId") or rid)
            return self._done(entry, Response(200, wire.success_body(answer), rid), "OK")
        except CloudError as exc:
            extra = {"AccessDeniedDetail": exc.access_denied_detail} if isinstance(exc, Denied) else None
            body = wire.error_body(exc.code, exc.detail, rid, host, version, extra)
            return self._done(entry, Response(exc.http_status, body, rid), exc.code)
        except Exception:
            log.exception("InternalError answering %s", entry.get("action"))
            body = wire.error_body("InternalError", INTERNAL, rid, host, version)
            return self._done(entry, Response(500, body, rid), "InternalError")

    def _issued_key(self, key_id: str) -> AccessKey | None:
        """A key the sandbox issued to one of its accounts or RAM users (``ipamctl sandbox account``)."""
        with self._lock:
            found = key_of(self._current().store, key_id)
        return None if found is None else AccessKey(key_id, found[0])

    def _caller(self, key_id: str) -> tuple[Caller, Policy | None]:
        """Who a verified key is, and the RAM policy its calls are held to: the serve key is the default
        account's root (held to ``--policy``); an issued root key has no policy; a RAM user's key has its
        user's policy, or none at all (nothing allowed)."""
        if key_id == self.key.id:
            return ROOT, self.options.policy
        with self._lock:
            found = key_of(self._current().store, key_id)
        if found is None:  # removed since it was verified
            raise CloudError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", http_status=404)
        _, caller, document = found
        if caller.user is None:
            return caller, None
        return caller, NOTHING if document is None else parse_policy(document, f"the policy of {caller.user}")

    def _check(self, call: wire.Call, key_id: str, entry: dict[str, object], caller: Caller = ROOT,
               policy: Policy | None = None) -> None:
        op = OPERATIONS.get(call.action)
        if op is None or call.action in ADMIN_ACTIONS:  # accounts and keys are made in process only
            raise CloudError("InvalidAction.NotFound", "Specified api is not found, please check your url and method.",
                             http_status=404)
        if op.version is not None and call.version != op.version:
            raise CloudError("InvalidVersion", f"Specified parameter Version is not valid: {call.action} is an "
                             f"operation of API version {op.version}, not {call.version}.", http_status=400)
        entry["auth_action"] = auth = auth_action(op.version or call.version, call.action)
        if self.bucket is not None and not self.bucket.take(key_id):
            raise CloudError("Throttling.User", THROTTLED, http_status=400)
        if policy is not None:
            policy.check(auth, key_id, caller.account)

    def _call(self, call: wire.Call, caller: Caller = ROOT) -> dict:
        with self._lock:
            cloud = self._current()
            try:
                return cloud.call(call.action, call.params, caller=caller)
            except CloudError as exc:
                if exc.code != "OperationConflict":
                    raise
            return self._reopen().call(call.action, call.params, caller=caller)  # another process wrote meanwhile

    # ---- the sandbox ----------------------------------------------------------------------
    def _open(self) -> SandboxCloud:
        try:
            self.db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CloudError("Sandbox.OpenFailed", f"cannot create the folder of {self.db}: {exc.strerror or exc}",
                             http_status=500) from None
        cloud = SandboxCloud(self.db, realism=self.options.realism)
        cloud.store.expect_version = cloud.store.data_version()
        return cloud

    def _reopen(self) -> SandboxCloud:
        if self._cloud is not None:
            self._cloud.close()
            self._cloud = None
        self._cloud = self._open()
        return self._cloud

    def _current(self) -> SandboxCloud:
        """The open sandbox, reopened first when another connection committed since."""
        cloud = self._cloud
        if cloud is None:
            raise RuntimeError("the served sandbox is closed")
        if cloud.store.data_version() != cloud.store.expect_version:
            cloud = self._reopen()
        return cloud

    def close(self) -> None:
        with self._lock:
            if self._cloud is not None:
                self._cloud.close()
                self._cloud = None
        self._close_log()

    # ---- the call log ---------------------------------------------------------------------
    def _done(self, entry: dict[str, object], resp: Response, code: str) -> Response:
        if self._log is not None:
            now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            line = orjson.dumps({"time": now, **entry, "code": code, "status": resp.status,
                                 "request_id": resp.request_id})
            with self._log_lock:
                try:
                    if self._log is not None:
                        self._log.write(line + b"\n")
                        self._log.flush()
                except OSError as exc:  # a full disk costs the log line, never the answer
                    log.warning("cannot write the call log: %s", exc)
        return resp

    def _close_log(self) -> None:
        with self._log_lock:
            if self._log is not None:
                self._log.close()
                self._log = None


def _open_log(path: Path) -> IO[bytes]:
    try:
        return open(path, "ab")
    except OSError as exc:
        raise ReconcilerError("Output.WriteFailed", f"cannot open the call log {path}: {exc.strerror or exc}") from None
