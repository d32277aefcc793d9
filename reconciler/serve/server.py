"""The sandbox over HTTP: a threaded stdlib server answering the official SDK clients.

One endpoint serves the three products (IPAM, VPC, ECS): the operation and its version come with
each request. HTTP/1.1 with keep-alive (the SDK pools its connections), a thread per connection;
every request is answered by :class:`reconciler.serve.app.Service` with JSON. A failure in the
plumbing (a client that hangs up) is logged and ends only that connection.

:class:`SandboxServer` listens as soon as it is made (so a port file can be written); ``start()``
answers in a background thread, ``close()`` stops answering, closes the database (after the call in
progress, if any) and ends the kept-alive connections. :func:`serve`
is the CLI's loop: answer until an event is set (the CLI sets it on SIGINT / SIGTERM).
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.serve import wire
from reconciler.serve.app import Options, Service
from reconciler.serve.signature import AccessKey

log = logging.getLogger(__name__)
MAX_BODY = 8 << 20  # no call of these APIs comes near it


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: with Nagle on, the body waits for the client's delayed
    # ACK of the headers (about 40 ms a call on loopback).
    disable_nagle_algorithm = True
    server_version = "ipamctl-sandbox"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    server: "_HttpServer"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        host = self.headers.get("Host") or ""
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0 or length > MAX_BODY:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            rid = wire.request_id()
            self._send(400, wire.error_body("InvalidParameter.ContentLength", "the Content-Length is not valid",
                                            rid, host), rid)
            return
        body = self.rfile.read(length) if length else b""
        path, query = wire.parse_target(self.path)
        headers: dict[str, tuple[str, ...]] = {}
        for name, value in self.headers.items():
            headers[name.lower()] = headers.get(name.lower(), ()) + (value,)
        resp = self.server.service.handle(wire.HttpRequest(self.command, path, query, headers, body), host)
        self._send(resp.status, resp.body, resp.request_id)

    def _send(self, status: int, body: bytes, rid: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", wire.JSON_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-acs-request-id", rid)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: Service):
        self.service = service
        self._open: set[socket.socket] = set()  # the connections being served, to end them at close
        self._open_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def end_connections(self) -> None:
        """End every kept-alive connection, so no handler thread outlives the server."""
        with self._open_lock:
            for conn in self._open:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class SandboxServer:
    """The sandbox database ``db`` served on ``host:port`` (0: a free port) for ``key``."""

    def __init__(self, db: str | Path, key: AccessKey, *, host: str = "127.0.0.1", port: int = 0,
                 options: Options = Options()):
        self.key = key
        self.service = Service(db, key, options)
        try:
            self._http = _HttpServer((host, port), self.service)
        except OSError as exc:
            self.service.close()
            raise ReconcilerError("Serve.ListenFailed", f"cannot listen on {host}:{port}: {exc.strerror or exc}") \
                from None
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def host(self) -> str:
        return str(self._http.server_address[0])

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "SandboxServer":
        """Answer requests in a background thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.1},
                                            name="sandbox-serve", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop answering, then close the socket and the database (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
        self._http.server_close()
        self.service.close()  # waits for a call in progress
        self._http.end_connections()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(server: SandboxServer, stop: threading.Event) -> None:
    """Answer requests until ``stop`` is set, then close everything cleanly."""
    server.start()
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.close()
