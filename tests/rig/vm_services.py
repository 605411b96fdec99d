#!/usr/bin/env python3
"""The VM rig's servers, run as one process inside the rig's network namespace.

- IMDSv2 on 169.254.169.254:80 (tests/imds_server.py: Bearer header required, v1 refused);
- a registry answering as ``registry-1.docker.io`` on ``--registry-ip``:443 (HTTPS, a
  certificate from the rig's test CA), read-only from a tests/rig/images.py store: ``/v2/``,
  manifests and blobs, GET and HEAD, no auth (Docker then asks for no token);
- a git server answering as ``github.com`` on ``--git-ip``:443: git's smart HTTP protocol
  (``git http-backend``) over HTTPS from the test CA;
- a STUN responder (tests/stun_support.py) on ``--stun-ip``:19302 and :3478.

``--fail-once registry`` / ``git`` answers 503 to the first request of that server (fault
tests); while the file ``--state/git-down`` exists the git server answers 503; while
``--state/stun-down`` exists STUN answers nothing after one answer on :19302; ``--imds-outage KEY:SECONDS`` drops every
IMDS request for SECONDS from the first request for metadata key KEY. With ``--git-token-file``
the git server is a private repository: it wants HTTP Basic ``x-access-token:<token>`` (as
GitHub takes a token) and answers 401 without it.
Example: ``ip netns exec NS python3 vm_services.py --state DIR ...`` (tests/rig/vm_net.py).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from imds_server import make_handler  # noqa: E402
from stun_support import StunServer  # noqa: E402

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


class Files(BaseHTTPRequestHandler):
    """Shared by the registry and the git server: answer a path from disk, log one JSON line."""

    protocol_version = "HTTP/1.1"
    name = ""
    log = ""
    fail_once: set[str] = set()
    state = ""

    def locate(self, path: str) -> tuple[Path | None, dict[str, str]]:
        raise NotImplementedError

    def serve(self, head: bool) -> None:
        path = self.path.split("?")[0]
        status, headers, file = 404, {}, None
        down = os.path.exists(os.path.join(self.state, f"{self.name}-down"))
        if self.name in self.fail_once or down:
            self.fail_once.discard(self.name)
            status = 503
        else:
            file, headers = self.locate(path)
            status = 200 if file is not None and file.is_file() else 404
        body = file.read_bytes() if status == 200 and file else b"{}" if status == 200 else b"not found\n"
        self.send_response(status)
        for k, v in ({"Content-Length": str(len(body))} | headers).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)
        self.record(path, status)

    def record(self, path: str, status: int) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"server": self.name, "method": self.command, "path": path,
                                "status": status, "t": round(time.time(), 3)}) + "\n")

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.serve(False)

    def do_HEAD(self) -> None:  # noqa: N802
        self.serve(True)

    def log_message(self, *args: object) -> None:
        pass


def registry_handler(store: Path, base: type[Files]) -> type[Files]:
    class Registry(base):  # type: ignore[valid-type,misc]
        name = "registry"

        def locate(self, path: str) -> tuple[Path | None, dict[str, str]]:
            api = {"Docker-Distribution-API-Version": "registry/2.0"}
            if path in ("/v2/", "/v2"):
                return store / "blobs" / ".", api | {"Content-Type": "application/json"}
            if "/manifests/" in path:
                repo, ref = path[len("/v2/"):].split("/manifests/", 1)
                digest = ref if ref.startswith("sha256:") else None
                tag = store / "manifests" / repo / ref
                if digest is None and tag.is_file():
                    digest = tag.read_text(encoding="utf-8").strip()
                if digest and ".." not in digest:
                    return store / "blobs" / digest, api | {"Content-Type": MANIFEST_V2, "Docker-Content-Digest": digest}
            if "/blobs/" in path:
                digest = path.rsplit("/blobs/", 1)[1]
                if digest.startswith("sha256:") and "/" not in digest:
                    return store / "blobs" / digest, api | {"Content-Type": "application/octet-stream",
                                                            "Docker-Content-Digest": digest}
            return None, api

        def serve(self, head: bool) -> None:
            if self.path.split("?")[0] in ("/v2/", "/v2"):  # the ping: 200 and {}
                self.send_response(200)
                for k, v in {"Content-Length": "2", "Content-Type": "application/json",
                             "Docker-Distribution-API-Version": "registry/2.0"}.items():
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    self.wfile.write(b"{}")
                return
            super().serve(head)

    return Registry


def git_handler(repos: Path, base: type[Files], token_file: str | None = None) -> type[Files]:
    """git's smart HTTP protocol through ``git http-backend`` (CGI), as GitHub speaks it: the
    agent clones with ``--depth 1``, which the dumb protocol cannot serve."""
    import base64
    import subprocess
    token = None
    if token_file:
        secret = Path(token_file).read_text(encoding="utf-8").strip()
        token = base64.b64encode(f"x-access-token:{secret}".encode()).decode()

    class Git(base):  # type: ignore[valid-type,misc]
        name = "git"

        def serve(self, head: bool) -> None:
            path, _, query = self.path.partition("?")
            if token is not None and self.headers.get("Authorization") != "Basic " + token:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.record(path, 401)
                return
            down = os.path.exists(os.path.join(self.state, "git-down"))
            if self.name in self.fail_once or down or ".." in path:
                self.fail_once.discard(self.name)
                status = 404 if ".." in path else 503
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.record(path, status)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": str(repos),
                   "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
                   "REQUEST_METHOD": self.command, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                   "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": self.client_address[0],
                   "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", "")}
            if self.headers.get("Content-Encoding") == "gzip":
                import gzip
                body = gzip.decompress(body)
                env["CONTENT_LENGTH"] = str(len(body))
            out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120).stdout
            head_text, _, payload = out.partition(b"\r\n\r\n")
            if not _:
                head_text, _, payload = out.partition(b"\n\n")
            status, headers = 200, {}
            for line in head_text.decode("latin-1").splitlines():
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    status = int(v.split()[0])
                elif k:
                    headers[k] = v.strip()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if not head:
                self.wfile.write(payload)
            self.record(path, status)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.serve(False)

    return Git


def acme_front(upstream: str, base: type[BaseHTTPRequestHandler]) -> type[BaseHTTPRequestHandler]:
    """Let's Encrypt's directory URL (``/directory``) in front of Pebble (``/dir``): every request
    is passed on with its Host header, so the URLs Pebble writes point back here."""
    import http.client

    class Front(base):  # type: ignore[valid-type,misc]
        protocol_version = "HTTP/1.1"

        def relay(self) -> None:
            path = "/dir" if self.path == "/directory" else self.path
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            conn = http.client.HTTPSConnection(upstream, 14000, timeout=60, context=ssl._create_unverified_context())
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
            conn.request(self.command, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "content-length", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_HEAD = relay  # noqa: N815 (http.server's names)

        def log_message(self, *args: object) -> None:
            pass

    return Front


def https(ip: str, handler: type[BaseHTTPRequestHandler], cert: str, key: str) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer((ip, 443), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    return srv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True, help="IMDS keys in STATE/imds, logs in STATE/*.log")
    ap.add_argument("--instance", required=True)
    ap.add_argument("--vnics", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--repos", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--registry-ip", required=True)
    ap.add_argument("--git-ip", required=True)
    ap.add_argument("--stun-ip", required=True)
    ap.add_argument("--fail-once", action="append", default=[])
    ap.add_argument("--imds-outage", help="KEY:SECONDS")
    ap.add_argument("--git-token-file")
    ap.add_argument("--acme-ip", help="serve the ACME front for Pebble (listening on ACME_IP:14000) here")
    a = ap.parse_args()

    class Base(Files):
        log = os.path.join(a.state, "services.log")
        fail_once = set(a.fail_once)
        state = a.state

    outage = None
    if a.imds_outage:
        key, _, secs = a.imds_outage.rpartition(":")
        outage = (key, float(secs))
    imds = ThreadingHTTPServer(("169.254.169.254", 80),
                               make_handler(os.path.join(a.state, "imds"), os.path.join(a.state, "imds.log"),
                                            a.instance, a.vnics, outage))
    servers = [imds, https(a.registry_ip, registry_handler(Path(a.store), Base), a.cert, a.key),
               https(a.git_ip, git_handler(Path(a.repos), Base, a.git_token_file), a.cert, a.key)]
    if a.acme_ip:
        servers.append(https(a.acme_ip, acme_front(a.acme_ip, BaseHTTPRequestHandler), a.cert, a.key))
    # STUN held back answers one request on :19302 (the bring-up's DNS wait learns the public IP
    # there, from the servers of generator/data/domains.yaml, as it must to finish its bounded
    # wait), then nothing while stun-down exists; LiveKit's own list also has :3478 servers.
    stuns = [StunServer(bind=a.stun_ip, port=p, down_file=os.path.join(a.state, "stun-down"), answer_first=n)
             for p, n in ((19302, 1), (3478, 0))]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    Path(a.state, "services.ready").write_text(str(len(stuns)), encoding="utf-8")
    threading.Event().wait()


if __name__ == "__main__":
    main()
