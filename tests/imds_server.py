#!/usr/bin/env python3
"""A stand-in for OCI's instance metadata service (IMDSv2), for the config-agent sandbox and the VM rig.

Serves ``GET /opc/v2/instance/metadata/<key>`` from the file ``--dir/<key>`` (read on every
request, so a test switches bundles by rewriting the file), only with the header
``Authorization: Bearer Oracle`` (else 401, as IMDSv2 answers), 404 for a missing key.
With ``--instance FILE`` (the VM rig) it also serves what cloud-init's Oracle datasource reads:
``/opc/v2/instance/`` (FILE's JSON, its ``metadata`` filled with every key file of ``--dir``)
and ``/opc/v2/vnics/`` (``--vnics FILE``). IMDSv1 (``/opc/v1/``) is refused (404), as on an
instance with the legacy endpoints disabled. While the file ``--dir/../imds-down`` exists every
request is dropped without an answer (the fault "IMDS unreachable for a while"); with
``outage=(suffix, seconds)`` the first request whose path ends with ``suffix`` starts such an
outage by itself (the VM rig: the IMDS goes away when the bring-up first asks for the bundle,
after cloud-init has read user_data). Dropped requests are logged with status 0.
Each request is logged as one JSON line to ``--log``. Run inside a network namespace, bound to
169.254.169.254:80 (tests/emit/test_agent_sandbox.py, tests/e2e/test_vm_boot.py).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(key_dir: str, log: str, instance: str | None = None, vnics: str | None = None,
                 outage: tuple[str, float] | None = None) -> type[BaseHTTPRequestHandler]:
    outage_until: list[float] = []  # set once, by the first request matching outage's suffix

    def answer(path: str, auth: str | None) -> tuple[int, bytes, str]:
        prefix = "/opc/v2/instance/metadata/"
        if auth != "Bearer Oracle":
            return 401, b"Unauthorized", "text/plain"
        if path.startswith(prefix) and "/" not in path[len(prefix):]:
            file = os.path.join(key_dir, path[len(prefix):])
            if os.path.isfile(file):
                with open(file, "rb") as f:
                    return 200, f.read(), "text/plain"
        if path == "/opc/v2/instance/" and instance:
            with open(instance, encoding="utf-8") as f:
                doc = json.load(f)
            meta = doc.setdefault("metadata", {})
            for name in sorted(os.listdir(key_dir)):
                with open(os.path.join(key_dir, name), encoding="utf-8") as f:
                    meta[name] = f.read()
            return 200, json.dumps(doc).encode(), "application/json"
        if path == "/opc/v2/vnics/" and vnics:
            with open(vnics, "rb") as f:
                return 200, f.read(), "application/json"
        return 404, b"Not Found", "text/plain"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if outage and not outage_until and self.path.endswith(outage[0]):
                outage_until.append(time.monotonic() + outage[1])
            down = os.path.exists(os.path.join(os.path.dirname(os.path.abspath(key_dir)), "imds-down"))
            if down or (outage_until and time.monotonic() < outage_until[0]):
                with open(log, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"path": self.path, "authorization": self.headers.get("Authorization"),
                                        "status": 0, "t": round(time.time(), 3)}) + "\n")
                self.close_connection = True
                return
            auth = self.headers.get("Authorization")
            status, body, ctype = answer(self.path, auth)
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": self.path, "authorization": auth, "status": status,
                                    "t": round(time.time(), 3)}) + "\n")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="169.254.169.254")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--instance")
    ap.add_argument("--vnics")
    a = ap.parse_args()
    ThreadingHTTPServer((a.bind, a.port), make_handler(a.dir, a.log, a.instance, a.vnics)).serve_forever()


if __name__ == "__main__":
    main()
