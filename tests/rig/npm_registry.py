"""A tiny npm registry for the engine rig: the sample app's locked tarballs, byte for byte.

registry.npmjs.org cannot be reached from the rig, so the node image's npm points here
(tests/rig/images.py NPM_REGISTRY). It serves exactly the tarballs ``package-lock.json``
names, read from the repository-local npm cache that ``make sample-app-cache`` fills (npm's
own cacache: content-v2/<algo>/<hex>), at the path of each ``resolved`` URL -- npm ci
rewrites registry.npmjs.org to the configured registry and checks every tarball against the
lockfile's ``integrity``, so a wrong byte fails the build. Anything else is a 404 (and logged).

Run inside the rig's VCN namespace:
``python tests/rig/npm_registry.py HOST PORT LOCKFILE CACHE_DIR``, or ``serve()`` in a thread
(tests/rig/vcn_services.py does).
"""

from __future__ import annotations

import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


def tarball_index(lockfile: Path, cache: Path) -> dict[str, Path]:
    """URL path -> file in the cacache, for every locked package with resolved + integrity."""
    lock = json.loads(lockfile.read_text(encoding="utf-8"))
    out: dict[str, Path] = {}
    for name, meta in lock.get("packages", {}).items():
        if not name or "resolved" not in meta:
            continue
        algo, _, b64 = meta["integrity"].split()[0].partition("-")
        hexd = base64.b64decode(b64).hex()
        f = cache / "_cacache" / "content-v2" / algo / hexd[:2] / hexd[2:4] / hexd[4:]
        if not f.exists():
            raise FileNotFoundError(f"{meta['resolved']} is not in {cache} (run make sample-app-cache)")
        out[unquote(urlparse(meta["resolved"]).path)] = f
    return out


def serve(host: str, port: int, lockfile: Path, cache: Path) -> None:
    """Serve the locked tarballs on host:port until the process ends."""
    index = tarball_index(lockfile, cache)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            f = index.get(unquote(urlparse(self.path).path))
            body = f.read_bytes() if f else b'{"error":"not found"}'
            self.send_response(200 if f else 404)
            self.send_header("content-type", "application/octet-stream" if f else "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            print(f"NPM GET {self.path} {200 if f else 404}", flush=True)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer((host, port), Handler).serve_forever()


if __name__ == "__main__":
    print("READY", flush=True)
    serve(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
