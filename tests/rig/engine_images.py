"""The images the generated compose file names, built here FROM scratch from real binaries.

Docker Hub cannot be reached from here, so each image the stack pulls is built with the real
engine (``docker build`` of a local context, ``FROM scratch``) and tagged with the exact name
the compose file uses:

==============================  =============================================================
tag (generator/core/versions.py,      contents
generator/emit/cloudinit.py)
==============================  =============================================================
livekit/livekit-server:<pin>     the real LiveKit server at the pinned version (.tools, built by
                                 ``make livekit`` from the Go module proxy) as /livekit-server,
                                 ENTRYPOINT as LiveKit's own Dockerfile
caddy:2.8.4                      Debian's caddy (/usr/bin/caddy; **2.6.2**, not 2.8.4: the
                                 official binary cannot be fetched) with the official image's
                                 XDG dirs, WORKDIR and CMD
livekit/caddyl4:<caddy>          Caddy <caddy> with caddy-l4 (.tools, ``make caddy-l4``) as
                                 /bin/caddy, ENTRYPOINT /bin/caddy
node:26-alpine                   the machine's node (nodesource **20.x**, glibc, with the shared
                                 libraries ``ldd`` lists) and its bundled npm under /usr/local,
                                 user ``node`` (uid 1000); npm's global npmrc points at the rig's
                                 registry (``NPM_REGISTRY``, tests/rig/npm_registry.py) because
                                 registry.npmjs.org cannot be reached
==============================  =============================================================

Every image also carries Debian's static busybox as /bin/sh, wget, ... (the official images are
Alpine-based and have them: healthchecks and ``RUN`` lines may use them), /etc/passwd, /etc/group
and the machine's CA bundle.

Tarballs (``docker save``) are cached in ``~/.cache/flowstack/images-<key>/<name>.tar`` (outside
the clone, so a second CI run is warm); ``<key>`` hashes this file and the versions of every
binary, so a version bump builds again.

API (also for the VM rig, which pushes them to its registry):
    tags() -> list[str]                          the four tags above
    cache_dir() -> Path                          where the tarballs live
    cached() -> dict[str, Path]                  tag -> tarball for those already built
    build(engine, only=None) -> dict[str, Path]  build the missing ones (``only``: a subset of tags)
                                                 with ``engine`` (tests/rig/engine.Engine); tag -> tarball
CLI: ``python -m tests.rig.engine_images`` builds all missing ones with an engine of its own and prints
``tag<TAB>tarball`` lines (``make engine-images``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from generator.emit.cloudinit import CADDY_IMAGE
from generator.core.versions import caddy_l4_image, livekit_image, versions

ROOT = Path(__file__).resolve().parents[2]
NODE_IMAGE = "node:26-alpine"  # templates/sample-app/Dockerfile's FROM
NPM_REGISTRY = "http://10.78.0.1:4873/"  # tests/rig/npm_registry.py in the engine rig's VCN namespace
BUSYBOX = Path("/bin/busybox")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
NODE = Path("/usr/bin/node")
NPM_DIR = Path("/usr/lib/node_modules/npm")


def tags() -> list[str]:
    return [livekit_image(), CADDY_IMAGE, caddy_l4_image(), NODE_IMAGE]


def _livekit_bin() -> Path:
    return ROOT / ".tools" / f"livekit-server-{versions()['livekit_server']['version']}" / "server"


def _caddy_l4_bin() -> Path:
    v = versions()["caddy_l4"]
    return ROOT / ".tools" / f"caddy-l4-{v['caddy']}-{v['caddy_l4']}" / "caddy"


def _version_of(cmd: list[str]) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
    return (p.stdout + p.stderr).strip().splitlines()[0] if p.returncode == 0 and (p.stdout + p.stderr).strip() else "missing"


def cache_dir() -> Path:
    """~/.cache/flowstack/images-<key>/: the key covers this file and every binary's version."""
    parts = [
        Path(__file__).read_text(encoding="utf-8"),
        livekit_image(), caddy_l4_image(), CADDY_IMAGE, NODE_IMAGE, NPM_REGISTRY,
        _version_of(["/usr/bin/caddy", "version"]), _version_of([str(NODE), "--version"]),
        _version_of([str(BUSYBOX)]),
    ]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    base = Path(os.environ.get("FLOWSTACK_CACHE", Path.home() / ".cache" / "flowstack"))
    return base / f"images-{key}"


def _file_name(tag: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", tag) + ".tar"


def cached() -> dict[str, Path]:
    d = cache_dir()
    return {t: d / _file_name(t) for t in tags() if (d / _file_name(t)).exists()}


# -- contexts


def _copy_with_libs(binary: Path, rootfs: Path, dest: str) -> None:
    """``binary`` at ``dest`` in ``rootfs``, plus every shared library ``ldd`` lists (same paths)."""
    target = rootfs / dest.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target)
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False, timeout=30).stdout
    for lib in re.findall(r"(/\S+) \(0x", out):
        lp = rootfs / lib.lstrip("/")
        lp.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(lib).resolve(), lp)


def _base(rootfs: Path, users: str = "") -> None:
    """busybox (as sh, wget, env, ...), passwd/group, CA bundle, /tmp: what an Alpine base gives."""
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, rootfs / "bin/busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True, timeout=30).stdout.split()
    for a in applets:
        if a != "busybox" and re.fullmatch(r"[a-z0-9_.\[-]+", a):
            (rootfs / "bin" / a).symlink_to("busybox")
    (rootfs / "usr/bin").mkdir(parents=True)
    (rootfs / "usr/bin/env").symlink_to("/bin/busybox")
    (rootfs / "etc/ssl/certs").mkdir(parents=True)
    shutil.copy2(CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n" + users)
    groups = "".join(f"{u.split(':')[0]}:x:{u.split(':')[3]}:\n" for u in users.splitlines())
    (rootfs / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n" + groups)
    for d, mode in (("tmp", 0o1777), ("root", 0o700)):
        (rootfs / d).mkdir()
        (rootfs / d).chmod(mode)


def _context(tag: str, ctx: Path) -> str:
    """Fill ``ctx`` for ``tag``; returns the Dockerfile text."""
    rootfs = ctx / "rootfs"
    if tag == livekit_image():
        _base(rootfs)
        _copy_with_libs(_livekit_bin(), rootfs, "/livekit-server")
        return 'FROM scratch\nCOPY rootfs/ /\nENTRYPOINT ["/livekit-server"]\n'
    if tag == caddy_l4_image():
        _base(rootfs)
        _copy_with_libs(_caddy_l4_bin(), rootfs, "/bin/caddy")
        return 'FROM scratch\nCOPY rootfs/ /\nENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data\nENTRYPOINT ["/bin/caddy"]\n'
    if tag == CADDY_IMAGE:
        _base(rootfs)
        _copy_with_libs(Path("/usr/bin/caddy"), rootfs, "/usr/bin/caddy")
        (rootfs / "etc/caddy").mkdir(parents=True)
        (rootfs / "etc/caddy/Caddyfile").write_text(":80 {\n\trespond \"caddy rig image\"\n}\n")
        for d in ("config/caddy", "data/caddy", "srv"):
            (rootfs / d).mkdir(parents=True)
        return (
            "FROM scratch\nCOPY rootfs/ /\nENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data\nWORKDIR /srv\n"
            'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]\n'
        )
    if tag == NODE_IMAGE:
        _base(rootfs, users="node:x:1000:1000:node:/home/node:/bin/sh\n")
        _copy_with_libs(NODE, rootfs, "/usr/local/bin/node")
        shutil.copytree(NPM_DIR, rootfs / "usr/local/lib/node_modules/npm", symlinks=True)
        (rootfs / "usr/local/bin/npm").symlink_to("../lib/node_modules/npm/bin/npm-cli.js")
        (rootfs / "usr/local/bin/npx").symlink_to("../lib/node_modules/npm/bin/npx-cli.js")
        (rootfs / "usr/local/etc").mkdir(parents=True)
        (rootfs / "usr/local/etc/npmrc").write_text(f"registry={NPM_REGISTRY}\nupdate-notifier=false\n")
        (ctx / "home").mkdir()
        return (
            "FROM scratch\nCOPY rootfs/ /\nCOPY --chown=1000:1000 home/ /home/node/\n"
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
            'CMD ["node"]\n'
        )
    raise ValueError(f"no recipe for image {tag!r}; known: {', '.join(tags())}")


def missing_inputs(only: list[str] | None = None) -> list[str]:
    """Binaries the recipes need that are not here (say which make target builds them)."""
    need = {livekit_image(): (_livekit_bin(), "make livekit"), caddy_l4_image(): (_caddy_l4_bin(), "make caddy-l4"),
            CADDY_IMAGE: (Path("/usr/bin/caddy"), "tools/ensure-system-deps.sh"), NODE_IMAGE: (NODE, "tools/ensure-system-deps.sh")}
    out = [f"{need[t][0]} ({need[t][1]})" for t in (only or tags()) if not need[t][0].exists()]
    return out + ([f"{BUSYBOX} (tools/ensure-docker-engine.sh)"] if not BUSYBOX.exists() else [])


def build(engine: object, only: list[str] | None = None) -> dict[str, Path]:
    """Build the missing images of ``only`` (default all) with ``engine``; tag -> cached tarball."""
    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for tag in only or tags():
        tar = d / _file_name(tag)
        if not tar.exists():
            with tempfile.TemporaryDirectory(prefix="fs-img-") as tmp:
                ctx = Path(tmp)
                (ctx / "Dockerfile").write_text(_context(tag, ctx))
                engine.docker(["build", "-q", "-t", tag, str(ctx)], timeout=600)  # type: ignore[attr-defined]
                engine.docker(["save", "-o", str(tar) + ".tmp", tag], timeout=600)  # type: ignore[attr-defined]
                os.replace(str(tar) + ".tmp", tar)
        out[tag] = tar
    return out


def main() -> None:
    from .engine import Engine

    if missing_inputs():
        raise SystemExit("Error: missing " + "; ".join(missing_inputs()))
    with tempfile.TemporaryDirectory(prefix="fsi", dir="/tmp") as tmp, Engine(Path(tmp)) as eng:
        for tag, tar in build(eng).items():
            print(f"{tag}\t{tar}")


if __name__ == "__main__":
    main()
