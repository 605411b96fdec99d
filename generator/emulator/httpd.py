"""The emulator's HTTP plumbing: the standard library's threading server and one request handler.

Each request is read whole (at most `MAX_BODY_BYTES`), given to the emulator's ``handle``
and answered with ``opc-request-id`` (the client's, if it sent one, plus ours).  Any
exception becomes a 500 and a traceback in the emulator's log, never a dropped connection.

>>> httpd = make_http_server(emulator, "127.0.0.1", 0)  # doctest: +SKIP
"""

from __future__ import annotations

import socket
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from .errors import EmulatorError
from .messages import Response, error_response

MAX_BODY_BYTES = 32 * 1024 * 1024


class Emulator(Protocol):
    """What the handler needs of the emulator (an `server.EmulatorServer`)."""

    def handle(self, method: str, target: str, headers: Any, body: bytes, client: str) -> Response: ...

    def _write_log(self, line: str) -> None: ...


def make_http_server(emulator: Emulator, host: str, port: int) -> ThreadingHTTPServer:
    """A server on ``host:port`` (IPv6 when the host has a colon) whose requests go to ``emulator``."""
    handler = type("EmulatorHandler", (_Handler,), {"emulator": emulator})
    server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
    try:
        httpd = server_class((host, port), handler)
    except OSError as exc:
        raise EmulatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    httpd.daemon_threads = True
    return httpd


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    emulator: Emulator
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK reuses its connections
    server_version = "flowstack-rm-emulator"

    def version_string(self) -> str:
        return self.server_version
    timeout = 60  # an idle keep-alive connection frees its thread after this

    def _serve(self) -> None:
        request_id = self._request_id()
        body = self._read_body()
        if isinstance(body, Response):
            response = body
        else:
            try:
                response = self.emulator.handle(self.command, self.path, self.headers, body, self.client_address[0])
            except Exception:
                self.emulator._write_log(traceback.format_exc())
                response = error_response(500, "InternalServerError", "the emulator failed on this request; see its log")
        self._send(response, request_id)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def _request_id(self) -> str:
        request_id = uuid.uuid4().hex.upper()
        client_id = self.headers.get("opc-request-id")
        return f"{client_id}/{request_id}" if client_id else request_id

    def _read_body(self) -> bytes | Response:
        """The whole body, or the error answer to a bad or too large ``content-length``."""
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            return error_response(413 if length > 0 else 400, "InvalidParameter", f"bad or too large content-length (limit {MAX_BODY_BYTES} bytes)")
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response, request_id: str) -> None:
        self.send_response(response.status)
        self.send_header("opc-request-id", request_id)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("content-type", response.content_type)
            self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if response.status != 204 and self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        self.emulator._write_log(f"{self.address_string()} {format % args}")
