"""Request signatures as Alibaba Cloud checks them, rebuilt from the raw request on this side.

Two schemes, both what the unmodified official SDK sends:

- ACS3-HMAC-SHA256 (the SDK's default): ``Authorization: ACS3-HMAC-SHA256 Credential=<id>,
  SignedHeaders=<a;b;...>,Signature=<hex>``. The canonical request is the method, the path, the
  query sorted by name with names and values percent-encoded (RFC 3986, ``~`` kept), every signed
  header as ``name:value`` (lower-cased, trimmed, one per line, repeated values joined by ``,``),
  the signed-header list and the body's SHA-256 (hex), joined by newlines; the string signed is
  ``ACS3-HMAC-SHA256\\n`` + hex SHA-256 of it, with HMAC-SHA256 under the secret. The signed
  headers must include ``host`` and every ``x-acs-*`` header, and ``x-acs-content-sha256`` must be
  the body's hash.
- HMAC-SHA1 v1.0 (``Config(signature_algorithm='v2')``): the ``Signature`` parameter is base64
  HMAC-SHA1 under ``secret + "&"`` of ``METHOD&%2F&`` + the percent-encoded canonical query (every
  query and form parameter but Signature, sorted, ``name=value`` joined by ``&``).

Both carry a time (``x-acs-date`` / ``Timestamp``, UTC ISO 8601) that must be within 15 minutes of
the server's clock, and a nonce (``x-acs-signature-nonce`` / ``SignatureNonce``) used once: it is
remembered until its request's time leaves the window (:class:`NonceCache`, bounded), and only once
the signature is good, so a forged request cannot spend a real client's nonce.

Codes: IncompleteSignature (400; a signing header or parameter missing, or a malformed
Authorization), InvalidAccessKeyId.NotFound (404), InvalidTimeStamp.Format (400),
InvalidTimeStamp.Expired (400), SignatureDoesNotMatch (400; also a body whose hash is not the
signed one, and an algorithm other than the two), SignatureNonceUsed (400). Messages never carry a
secret; a mismatch gives the server's string to sign, as the cloud does, to debug a client.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import os
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Mapping
from urllib.parse import quote

from reconciler.errors import CloudError
from reconciler.serve.wire import HttpRequest

WINDOW = 15 * 60  # seconds a request's time may differ from the server's
ACS3 = "ACS3-HMAC-SHA256"
V1 = "HMAC-SHA1"
ACS3_HEADERS = ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256")
V1_PARAMETERS = ("Signature", "SignatureMethod", "SignatureVersion", "AccessKeyId", "Timestamp", "SignatureNonce")
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class AccessKey:
    id: str
    secret: str = field(repr=False)  # never shown: not in repr, logs or messages


def generate_key() -> AccessKey:
    """A random key shaped like the cloud's: ``LTAI`` + 20 characters, a 30-character secret."""
    pick = secrets.choice
    return AccessKey("LTAI" + "".join(pick(_ALNUM) for _ in range(20)), "".join(pick(_ALNUM) for _ in range(30)))


def key_from_env(environ: Mapping[str, str] = os.environ) -> AccessKey | None:
    """The key of ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET when both are set."""
    key_id = environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "").strip()
    secret = environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "").strip()
    return AccessKey(key_id, secret) if key_id and secret else None


def percent(text: str) -> str:
    """RFC 3986 percent-encoding: everything but ``A-Za-z0-9-_.~``."""
    return quote(text, safe="~")


def _refuse(code: str, message: str, status: int = 400) -> CloudError:
    return CloudError(code, message, http_status=status)


class NonceCache:
    """Nonces seen per access key, each kept until ``expires`` (its request's time + the window);
    at most ``limit`` of them (the earliest to expire go first when full)."""

    def __init__(self, limit: int = 200_000, clock: Callable[[], float] = time.time):
        self._limit, self._clock = limit, clock
        self._seen: dict[tuple[str, str], float] = {}
        self._heap: list[tuple[float, tuple[str, str]]] = []
        self._lock = threading.Lock()

    def use(self, key_id: str, nonce: str, expires: float) -> bool:
        """Record the nonce; False when it was already used."""
        with self._lock:
            now = self._clock()
            while self._heap and (self._heap[0][0] <= now or len(self._heap) > self._limit):
                _, old = heapq.heappop(self._heap)
                self._seen.pop(old, None)
            item = (key_id, nonce)
            if item in self._seen:
                return False
            self._seen[item] = expires
            heapq.heappush(self._heap, (expires, item))
            return True

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True)
class Verified:
    access_key_id: str
    classic: bool  # v1 (parameter) signing


class Verifier:
    """Checks requests against the known keys: ``keys``, then those ``lookup`` finds (the keys the
    sandbox issued to its accounts and RAM users)."""

    def __init__(self, keys: Mapping[str, AccessKey], nonces: NonceCache | None = None,
                 clock: Callable[[], float] = time.time, lookup: Callable[[str], AccessKey | None] | None = None):
        self._keys, self._clock, self._lookup = dict(keys), clock, lookup
        self.nonces = nonces if nonces is not None else NonceCache(clock=clock)

    def claimed_key(self, req: HttpRequest) -> str | None:
        """The access key id a request names, verified or not (for the call log)."""
        auth = req.header("authorization") or ""
        if auth.startswith("ACS3-"):
            return _auth_fields(auth)[1].get("Credential")
        return req.query_params().get("AccessKeyId")

    def verify(self, req: HttpRequest) -> Verified:
        auth = req.header("authorization")
        if auth is not None and auth.startswith("ACS3-"):
            return self._acs3(req, auth)
        if "Signature" in req.params():
            return self._v1(req)
        raise _refuse("IncompleteSignature", "The request signature does not conform to Aliyun standards: the "
                      "request carries no ACS3 Authorization header and no Signature parameter.")

    # ---- the two schemes ------------------------------------------------------------------
    def _acs3(self, req: HttpRequest, auth: str) -> Verified:
        algorithm, fields = _auth_fields(auth)
        missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
        if missing:
            raise _refuse("IncompleteSignature", f"The Authorization header lacks {', '.join(missing)}.")
        signed = [h.strip().lower() for h in fields["SignedHeaders"].split(";") if h.strip()]
        absent = [h for h in ACS3_HEADERS if req.header(h) is None]
        must = ["host", *sorted(n for n in req.headers if n.startswith("x-acs-"))]
        unsigned = [h for h in must if h not in signed]
        if absent or unsigned:
            what = [f"missing header {h}" for h in absent] + [f"unsigned header {h}" for h in unsigned]
            raise _refuse("IncompleteSignature", f"The request signature does not conform to Aliyun standards: "
                          f"{', '.join(what)}.")
        key = self._key(fields["Credential"])
        stamp = self._time(str(req.header("x-acs-date")), "x-acs-date")
        if algorithm != ACS3:
            raise _refuse("SignatureDoesNotMatch", f"The signature algorithm {algorithm} is not served "
                          f"(only {ACS3} and {V1}).")
        payload = hashlib.sha256(req.body).hexdigest()
        if not hmac.compare_digest(payload, str(req.header("x-acs-content-sha256")).strip().lower()):
            raise _refuse("SignatureDoesNotMatch", "The x-acs-content-sha256 header is not the SHA-256 of the body.")
        to_sign = acs3_string_to_sign(req, signed, payload)
        want = hmac.new(key.secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, fields["Signature"].strip().lower()):
            raise _mismatch(to_sign)
        self._nonce(key.id, str(req.header("x-acs-signature-nonce")), stamp)
        return Verified(key.id, classic=False)

    def _v1(self, req: HttpRequest) -> Verified:
        params = req.params()
        missing = [p for p in V1_PARAMETERS if not params.get(p)]
        if missing:
            raise _refuse("IncompleteSignature", f"The request signature does not conform to Aliyun standards: "
                          f"missing parameter(s) {', '.join(missing)}.")
        key = self._key(params["AccessKeyId"])
        stamp = self._time(params["Timestamp"], "Timestamp")
        if params["SignatureMethod"] != V1 or params["SignatureVersion"] != "1.0":
            raise _refuse("SignatureDoesNotMatch", f"SignatureMethod {params['SignatureMethod']} version "
                          f"{params['SignatureVersion']} is not served (only {V1} 1.0 and {ACS3}).")
        to_sign = v1_string_to_sign(req.method, params)
        want = base64.b64encode(hmac.new((key.secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest())
        if not hmac.compare_digest(want.decode(), params["Signature"]):
            raise _mismatch(to_sign)
        self._nonce(key.id, params["SignatureNonce"], stamp)
        return Verified(key.id, classic=True)

    # ---- shared checks --------------------------------------------------------------------
    def _key(self, key_id: str) -> AccessKey:
        key = self._keys.get(key_id.strip())
        if key is None and self._lookup is not None:
            key = self._lookup(key_id.strip())
        if key is None:
            raise _refuse("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        return key

    def _time(self, text: str, name: str) -> float:
        stamp = parse_time(text)
        if stamp is None:
            raise _refuse("InvalidTimeStamp.Format", f"Specified {name} {text!r} is not in the format "
                          "YYYY-MM-DDThh:mm:ssZ (UTC).")
        if abs(self._clock() - stamp) > WINDOW:
            raise _refuse("InvalidTimeStamp.Expired", f"Specified time stamp or date value is expired: {name} "
                          f"{text} is more than 15 minutes from the server's time.")
        return stamp

    def _nonce(self, key_id: str, nonce: str, stamp: float) -> None:
        if not self.nonces.use(key_id, nonce, stamp + WINDOW):
            raise _refuse("SignatureNonceUsed", "Specified signature nonce was used already.")


def _mismatch(to_sign: str) -> CloudError:
    shown = to_sign.replace("\n", "\\n")
    return _refuse("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                   f"server string to sign is:{shown}")


def _auth_fields(auth: str) -> tuple[str, dict[str, str]]:
    algorithm, _, rest = auth.strip().partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, value = part.strip().partition("=")
        if eq:
            fields[name.strip()] = value.strip()
    return algorithm, fields


def parse_time(text: str) -> float | None:
    """Seconds since the epoch of a UTC ``YYYY-MM-DDThh:mm:ss[.fff]Z``, or None."""
    for form in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(text.strip(), form).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def acs3_string_to_sign(req: HttpRequest, signed: list[str], payload_hash: str) -> str:
    query = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(req.query, key=lambda kv: percent(kv[0])))
    names = sorted({h.strip().lower() for h in signed if h.strip()})
    lines = "".join(f"{n}:{','.join(sorted(v.strip() for v in req.headers.get(n, ())))}\n" for n in names)
    canonical = f"{req.method}\n{req.path or '/'}\n{query}\n{lines}\n{';'.join(names)}\n{payload_hash}"
    return f"{ACS3}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    pairs = sorted((percent(k), percent(v)) for k, v in params.items() if k != "Signature")
    return f"{method}&%2F&{percent('&'.join(f'{k}={v}' for k, v in pairs))}"
