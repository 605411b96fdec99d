"""A tiny npm registry for the engine rig: the sample app's locked tarballs, byte for byte.

registry.npmjs.org cannot be reached from the rig, so the node image's npm points here
(tests/rig/engine_images.py NPM_REGISTRY). It serves exactly the tarballs ``package-lock.json``
names, read from the repository-local npm cache that ``make sample-app-cache`` fills (npm's
own cacache: content-v2/<algo>/<hex>, found by each entry's ``integrity``), at the registry's
usual tarball path; npm checks every tarball against the lockfile's ``integrity``, so a wrong
byte fails the build. npm also asks for each
package's metadata (packument): it gets one listing only the locked versions, with the same
dist. Anything else is a 404 (and logged).

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
from typing import Any
from urllib.parse import unquote, urlparse


def _locked(lockfile: Path) -> list[tuple[str, dict[str, Any]]]:
    """(name, entry) for every locked registry package (the lockfile omits ``resolved``: npm's default URL applies)."""
    lock = json.loads(lockfile.read_text(encoding="utf-8"))
    return [(key.rsplit("node_modules/", 1)[-1], meta) for key, meta in lock.get("packages", {}).items()
            if key and "integrity" in meta and "version" in meta]


def tarball_path(name: str, version: str) -> str:
    """The registry's tarball path: /@scope/pkg/-/pkg-1.0.0.tgz."""
    return f"/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def tarball_index(lockfile: Path, cache: Path) -> dict[str, Path]:
    """URL path -> file in the cacache, for every locked package (found by its integrity)."""
    out: dict[str, Path] = {}
    for name, meta in _locked(lockfile):
        algo, _, b64 = meta["integrity"].split()[0].partition("-")
        hexd = base64.b64decode(b64).hex()
        f = cache / "_cacache" / "content-v2" / algo / hexd[:2] / hexd[2:4] / hexd[4:]
        if not f.exists():
            raise FileNotFoundError(f"{name}@{meta['version']} is not in {cache} (run make sample-app-cache)")
        out[tarball_path(name, meta["version"])] = f
    return out


_MANIFEST_KEYS = ("dependencies", "optionalDependencies", "peerDependencies", "peerDependenciesMeta", "engines", "bin", "os", "cpu", "license")


def packuments(lockfile: Path) -> dict[str, dict[str, Any]]:
    """name -> a minimal packument (the locked versions only, their deps and dist) for npm's metadata requests."""
    out: dict[str, dict[str, Any]] = {}
    for name, meta in _locked(lockfile):
        doc = out.setdefault(name, {"name": name, "dist-tags": {}, "versions": {}})
        version = {"name": name, "version": meta["version"], "dist": {"tarball": tarball_path(name, meta["version"]), "integrity": meta["integrity"]}}
        version.update({k: meta[k] for k in _MANIFEST_KEYS if k in meta})
        doc["versions"][meta["version"]] = version
        doc["dist-tags"]["latest"] = max(doc["versions"], key=lambda v: tuple(int(x) if x.isdigit() else 0 for x in v.split("-")[0].split(".")))
    return out


def serve(host: str, port: int, lockfile: Path, cache: Path) -> None:
    """Serve the locked tarballs (and packuments naming them) on host:port until the process ends."""
    index = tarball_index(lockfile, cache)
    docs = packuments(lockfile)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = unquote(urlparse(self.path).path)
            f = index.get(path)
            body = f.read_bytes() if f else b'{"error":"not found"}'
            doc = docs.get(path.lstrip("/")) if f is None else None
            if doc is not None:
                # The tarball URLs on this registry's address, as the client asked it.
                base = f"http://{self.headers.get('Host', f'{host}:{port}')}"
                doc = json.loads(json.dumps(doc))
                for v in doc["versions"].values():
                    v["dist"]["tarball"] = base + v["dist"]["tarball"]
                body, f = json.dumps(doc).encode(), None
            ok = f is not None or doc is not None
            self.send_response(200 if ok else 404)
            self.send_header("content-type", "application/octet-stream" if f else "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            print(f"NPM GET {self.path} {200 if ok else 404}", flush=True)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer((host, port), Handler).serve_forever()


if __name__ == "__main__":
    print("READY", flush=True)
    serve(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
