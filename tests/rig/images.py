"""Docker images FROM scratch for the VM rig, from real binaries, and a registry store for them.

Docker Hub cannot be reached here, so the images the generated compose file names are made
from the binaries this machine has: LiveKit from the Go module proxy build (.tools), Caddy
(Debian's binary), Node (the machine's node) for the fixture app's ``FROM``. A dynamically
linked binary brings the libraries ``ldd`` lists and the loader. Layers are written with fixed
metadata so a store's digests only change when a binary does. The store
(``blobs/sha256:<hex>``, ``manifests/<repo>/<tag>``) is what tests/rig/vm_services.py serves as
``registry-1.docker.io`` (Docker image manifest v2, schema 2).

Example: ``Store(path).add("library/caddy", "2.8.4", {"/usr/bin/caddy": "/usr/bin/caddy"},
{"Cmd": ["caddy", "run"]})``
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

BUSYBOX = "/bin/busybox"  # Debian's busybox-static (tools/ensure-vm-deps.sh)
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def shared_libraries(binary: str) -> list[str]:
    """Absolute paths of the libraries (and loader) a dynamic ELF binary needs; [] if static."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    return sorted(set(re.findall(r"(/[^\s]+\.so[^\s]*)", out)))


def closure(files: dict[str, str]) -> dict[str, str]:
    """``files`` (image path -> host path) plus every library the ELF binaries among them need."""
    full = dict(files)
    for src in list(files.values()):
        with open(src, "rb") as f:
            if f.read(4) != b"\x7fELF":
                continue
        for lib in shared_libraries(src):
            full.setdefault(lib, lib)
            real = os.path.realpath(lib)
            full.setdefault(real, real)
    return full


def layer(files: dict[str, str], text: dict[str, str] | None = None,
          links: dict[str, str] | None = None) -> tuple[bytes, str]:
    """(gzip tar, diff id) of ``files`` (image path -> host path), ``text`` (path -> content) and
    ``links`` (path -> symlink target)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        entries = {k: ("file", v) for k, v in files.items()} | {k: ("text", v) for k, v in (text or {}).items()}
        entries |= {k: ("link", v) for k, v in (links or {}).items()}
        for dst in sorted(entries):
            parts = dst.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            kind, value = entries[dst]
            if kind == "link":
                info = tarfile.TarInfo(dst.strip("/"))
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
                continue
            data = Path(value).read_bytes() if kind == "file" else value.encode()
            mode = (os.stat(value).st_mode & 0o777) if kind == "file" else 0o644
            info = tarfile.TarInfo(dst.strip("/"))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    return gzip.compress(plain, mtime=0), "sha256:" + hashlib.sha256(plain).hexdigest()


class Store:
    """Blobs and tags on disk, in the layout vm_services.Registry serves."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs").mkdir(parents=True, exist_ok=True)

    def blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.root / "blobs" / digest
        if not path.exists():
            path.write_bytes(data)
        return digest

    def add(self, repo: str, tag: str, files: dict[str, str], config: dict[str, Any],
            text: dict[str, str] | None = None, links: dict[str, str] | None = None) -> str:
        """Write the image ``repo:tag``; returns the manifest digest."""
        gz, diff_id = layer(closure(files), text, links)
        layer_digest = self.blob(gz)
        cfg = {
            "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], **config},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "flowstack VM rig (tests/rig/images.py)"}],
        }
        cfg_bytes = json.dumps(cfg, sort_keys=True).encode()
        manifest = {
            "schemaVersion": 2, "mediaType": MANIFEST_V2,
            "config": {"mediaType": CONFIG_V1, "size": len(cfg_bytes), "digest": self.blob(cfg_bytes)},
            "layers": [{"mediaType": LAYER_GZIP, "size": len(gz), "digest": layer_digest}],
        }
        man_bytes = json.dumps(manifest, sort_keys=True).encode()
        digest = self.blob(man_bytes)
        tag_path = self.root / "manifests" / repo / tag
        tag_path.parent.mkdir(parents=True, exist_ok=True)
        tag_path.write_text(digest, encoding="utf-8")
        return digest


def bump_tag(pin: str) -> str:
    """The tag the VM rig's day-2 test moves LiveKit to: the pinned tag with a rig suffix."""
    return f"{pin}-rig.1"


def ca_bundle(extra_ca: Path) -> str:
    """The host's CA bundle plus the rig's test CA (what an image's /etc/ssl/certs holds)."""
    return Path("/etc/ssl/certs/ca-certificates.crt").read_text(encoding="utf-8") + extra_ca.read_text(encoding="utf-8")


def build_rig_images(store: Path, livekit: tuple[str, str], caddy: tuple[str, str], ca: Path) -> dict[str, str]:
    """The three images the rig's compose files use: {"repo:tag": digest}.

    ``livekit``/``caddy`` are (tag, binary path). Like the official images (Alpine-based) they
    carry BusyBox (``sh``, ``wget``: the compose healthchecks use it). The node image (for the
    fixture app's Dockerfile) carries ``/bin/sh`` so a ``RUN`` step works.
    """
    s = Store(store)
    certs = {"/etc/ssl/certs/ca-certificates.crt": ca_bundle(ca)}
    box = {"/bin/busybox": BUSYBOX}
    applets = {f"/bin/{a}": "busybox" for a in ("sh", "wget", "ls", "cat", "ps", "nslookup")}
    out = {}
    for tag in (livekit[0], bump_tag(livekit[0])):
        # The bump tag (a day-2 "LiveKit upgrade") holds the same binary with its own label, so it
        # is another image: what is proven is the agent's handling of an image change, not a
        # second LiveKit release (building one costs a second Go build of ~10 min on a cold machine).
        out[f"livekit/livekit-server:{tag}"] = s.add(
            "livekit/livekit-server", tag, {"/livekit-server": livekit[1]} | box,
            {"Entrypoint": ["/livekit-server"], "Labels": {"org.flowstack.rig.tag": tag}},
            text=certs | {"/tmp/.keep": ""}, links=applets)
    out[f"library/caddy:{caddy[0]}"] = s.add(
        "library/caddy", caddy[0], {"/usr/bin/caddy": caddy[1]} | box,
        {"Cmd": ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
         "Env": ["PATH=/usr/bin:/bin", "XDG_CONFIG_HOME=/config", "XDG_DATA_HOME=/data"], "WorkingDir": "/srv"},
        text=certs | {"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "/tmp/.keep": ""}, links=applets)
    out["library/node:20-slim"] = s.add(
        "library/node", "20-slim", {"/usr/local/bin/node": os.path.realpath("/usr/bin/node"), "/bin/sh": "/bin/dash"},
        {"Cmd": ["node"]},
        text=certs | {"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n",
                      "/etc/group": "root:x:0:\nnode:x:1000:\n", "/tmp/.keep": "", "/etc/nsswitch.conf": "hosts: files dns\n"})
    return out
