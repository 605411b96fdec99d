#!/usr/bin/env python3
"""A caching proxy to Debian's archive, for the VM rig (debootstrap and the guest's apt).

Runs in the host namespace (the only place that reaches Debian's archive) and listens on a
TCP port on 127.0.0.1 (debootstrap) and/or a unix socket that a ``socat`` inside the rig's
network namespace forwards to, so the namespace never gets a route to the host.

``GET /debian/...`` and ``/debian-security/...`` are fetched from deb.debian.org once and
kept under ``--cache`` (outside the clone, keyed by path): pool files and by-hash files
forever, index files (Release, InRelease, Packages...) for ``--index-ttl`` seconds, so a
second run is warm and consistent. ``GET /shim/...`` serves the local shim repository
(``--shim``, a directory) that provides Ubuntu's package names Debian lacks. Answers both
``GET /debian/...`` and proxy-style ``GET http://deb.debian.org/debian/...``. ``--fail-once
PATTERN`` answers 503 to the first request whose path contains PATTERN (fault tests).
Each request is one JSON line in ``--log``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socketserver
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = "deb.debian.org"
INDEX_NAMES = ("Release", "InRelease", "Release.gpg")


def is_index(path: str) -> bool:
    """Files that change in place upstream (everything but pool/ and by-hash/)."""
    return "/pool/" not in path and "/by-hash/" not in path


class Proxy:
    def __init__(self, cache: str, shim: str | None, ttl: float, log: str, fail_once: str | None) -> None:
        self.cache, self.shim, self.ttl, self.log = cache, shim, ttl, log
        self.fail_once = fail_once
        self.lock = threading.Lock()

    def record(self, **kw: object) -> None:
        with self.lock, open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(kw) + "\n")

    def fetch(self, path: str) -> tuple[int, bytes | None, str | None]:
        """(status, body or None, cached file path or None) for an archive path."""
        local = os.path.join(self.cache, path.lstrip("/"))
        fresh = os.path.isfile(local) and (not is_index(path) or time.time() - os.path.getmtime(local) < self.ttl)
        if fresh:
            return 200, None, local
        conn = http.client.HTTPConnection(UPSTREAM, 80, timeout=120)
        try:
            conn.request("GET", path, headers={"User-Agent": "flowstack-vm-rig"})
            resp = conn.getresponse()
            body = resp.read()
        except OSError:
            if os.path.isfile(local):  # stale index beats none
                return 200, None, local
            raise
        finally:
            conn.close()
        if resp.status != 200:
            return resp.status, body, None
        os.makedirs(os.path.dirname(local), exist_ok=True)
        tmp = f"{local}.{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "wb") as f:
            f.write(body)
        os.replace(tmp, local)
        return 200, None, local


def handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def send_body(self, status: int, body: bytes | None, path: str | None, head: bool) -> None:
            size = os.path.getsize(path) if path else len(body or b"")
            self.send_response(status)
            self.send_header("Content-Length", str(size))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if head:
                return
            if path:
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        self.wfile.write(chunk)
            else:
                self.wfile.write(body or b"")

        def serve(self, head: bool) -> None:
            path = urllib.parse.urlsplit(self.path).path
            status = 0
            try:
                if proxy.fail_once and proxy.fail_once in path:
                    proxy.fail_once = None
                    status = 503
                    self.send_body(503, b"injected failure\n", None, head)
                elif path.startswith("/shim/") and proxy.shim:
                    local = os.path.realpath(os.path.join(proxy.shim, path[len("/shim/"):]))
                    ok = local.startswith(os.path.realpath(proxy.shim) + os.sep) and os.path.isfile(local)
                    status = 200 if ok else 404
                    self.send_body(status, b"not found\n", local if ok else None, head)
                elif path.startswith(("/debian/", "/debian-security/")) and ".." not in path:
                    status, body, local = proxy.fetch(path)
                    self.send_body(status, body, local, head)
                else:
                    status = 404
                    self.send_body(404, b"not found\n", None, head)
            except OSError as e:
                status = 502
                try:
                    self.send_body(502, f"upstream: {e}\n".encode(), None, head)
                except OSError:
                    pass
            proxy.record(path=path, status=status, t=round(time.time(), 3))

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.serve(False)

        def do_HEAD(self) -> None:  # noqa: N802
            self.serve(True)

        def log_message(self, *args: object) -> None:
            pass

        def address_string(self) -> str:
            return "unix"

    return Handler


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):  # type: ignore[no-untyped-def]
        sock, _ = super().get_request()
        return sock, ("unix", 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True)
    ap.add_argument("--shim")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: none)")
    ap.add_argument("--unix", help="unix socket path")
    ap.add_argument("--index-ttl", type=float, default=86400.0)
    ap.add_argument("--log", required=True)
    ap.add_argument("--fail-once")
    ap.add_argument("--ready-file", help="written with the TCP port once listening")
    a = ap.parse_args()
    proxy = Proxy(a.cache, a.shim, a.index_ttl, a.log, a.fail_once)
    servers: list[socketserver.BaseServer] = []
    port = 0
    if a.unix:
        if os.path.exists(a.unix):
            os.unlink(a.unix)
        servers.append(UnixHTTPServer(a.unix, handler(proxy)))
    if a.port >= 0 and (a.port or not a.unix):
        tcp = ThreadingHTTPServer(("127.0.0.1", a.port), handler(proxy))
        port = tcp.server_address[1]
        servers.append(tcp)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w", encoding="utf-8") as f:
            f.write(str(port))
        os.replace(a.ready_file + ".tmp", a.ready_file)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
