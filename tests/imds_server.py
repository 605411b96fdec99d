#!/usr/bin/env python3
"""A stand-in for OCI's instance metadata service (IMDSv2), for the config-agent sandbox.

Serves ``GET /opc/v2/instance/metadata/<key>`` from the file ``--dir/<key>`` (read on every
request, so a test switches bundles by rewriting the file), only with the header
``Authorization: Bearer Oracle`` (else 401, as IMDSv2 answers), 404 for a missing key. Each
request is logged as one JSON line to ``--log``. Run inside a network namespace, bound to
169.254.169.254:80 (tests/emit/test_agent_sandbox.py).
"""

from __future__ import annotations

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="169.254.169.254")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            prefix = "/opc/v2/instance/metadata/"
            auth = self.headers.get("Authorization")
            status, body = 404, b"Not Found"
            if auth != "Bearer Oracle":
                status, body = 401, b"Unauthorized"
            elif self.path.startswith(prefix) and "/" not in self.path[len(prefix):]:
                path = os.path.join(a.dir, self.path[len(prefix):])
                if os.path.isfile(path):
                    with open(path, "rb") as f:
                        status, body = 200, f.read()
            with open(a.log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": self.path, "authorization": auth, "status": status}) + "\n")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer((a.bind, a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
