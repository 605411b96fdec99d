"""A real Docker engine for the tests: Debian's dockerd in a network and mount namespace of its own.

Never in the host namespace: a dockerd started there rewrites the host's iptables (FORWARD
policy DROP, DOCKER chains, docker0). Here it runs as on a server, ``--iptables=true``, so
DOCKER, DOCKER-USER and the MASQUERADE rules exist -- in its namespace only.

Topology (namespaces this module creates; nothing leaves them)::

    engine ns ("the server")  eth 10.78.0.2/24 --veth-- 10.78.0.1  vcn ns ("OCI's VCN")
      dockerd, containerd,                                           169.254.169.254 (lo): DNS :53,
      docker0 / compose networks                                     IMDS-like HTTP :80, STUN, npm

The engine's default route goes to the VCN namespace, and 169.254.169.254 lives there, not on
the engine's own interfaces: a container's packet to it crosses FORWARD -> DOCKER-USER exactly
as on an OCI instance (where it leaves through the VNIC). The engine's /etc/resolv.conf says
``nameserver 169.254.169.254`` as an OCI instance's resolver does.

The engine's mount namespace (private; nothing propagates to the host) holds: the cgroup
hierarchies mounted again as the host has them (cgroup2 alone on a cgroup2-only host, else the v1
hierarchies and cgroup2 at ``unified``), because ``ip netns exec`` mounts a fresh /sys without them;
/etc/docker from the test's directory (the project's daemon.json), /etc/resolv.conf, /run as a
fresh tmpfs, dockerd's data root on a tmpfs, and /opt/flowstack bound to the test's directory,
so the generated compose file's absolute paths work unchanged. ``Engine.machine(cmd)`` runs a
command in that namespace pair (what "on the server" means); ``before_dockerd(engine)`` runs
before dockerd starts (the firewall, as at an OCI boot). ``Engine.docker(args)`` runs the
CLI against the engine's socket (``DOCKER_HOST``), with the Compose and buildx plugins built by
tools/build-docker-plugins.sh in ``DOCKER_CONFIG/cli-plugins`` and a PATH built here (so a
Docker installed on the machine is never what runs).

Example:
    with Engine(tmp_path, plugins=plugin_dir()) as eng:
        eng.docker(["version"])
        eng.machine(["docker", "compose", "-f", "/opt/flowstack/docker-compose.yml", "up", "-d"])
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

from typing_extensions import Self

ROOT = Path(__file__).resolve().parents[2]
ENGINE_IP = "10.78.0.2"
VCN_IP = "10.78.0.1"
METADATA_IP = "169.254.169.254"
DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's docker.io CLI, never whatever else is on PATH
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
_NAME_RE = re.compile(r"^fse-(\d+)-[0-9a-f]{6}-[ev]$")
CGROUP_V1 = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")

# Runs as the engine namespace's first process: private mounts, then exec dockerd ("$@").
_MOUNTS = r"""
set -e
mount --make-rprivate /
if [ "$CGROUP_FS" = cgroup2fs ]; then
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
else
  mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
  for c in $CGROUPS; do mkdir -p /sys/fs/cgroup/$c; mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c || rmdir /sys/fs/cgroup/$c; done
  mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd || true
  mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified || true
fi
mount -t tmpfs -o mode=755 run /run
mkdir -p /run/lock
[ -d /etc/docker ] || mkdir -p /etc/docker
mount --bind "$RIG/etc-docker" /etc/docker
mount --bind "$RIG/resolv.conf" /etc/resolv.conf
mount --bind "$RIG/hosts" /etc/hosts
mount -t tmpfs -o mode=755 opt /opt
mkdir -p /opt/flowstack
mount --bind "$RIG/opt-flowstack" /opt/flowstack
mount -t tmpfs -o mode=711 dockerdata "$RIG/data"
exec "$@"
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


def available() -> str | None:
    """Why the engine cannot run here, or None (root, dockerd, ip and unshare present)."""
    if os.geteuid() != 0:
        return "needs root (network and mount namespaces)"
    for tool in (DOCKERD, DOCKER, "/usr/bin/containerd", shutil.which("ip", path=PATH), shutil.which("unshare", path=PATH)):
        if not tool or not Path(tool).exists():
            return f"{tool or 'ip/unshare'} missing: run tools/ensure-docker-engine.sh (make engine-deps)"
    return None


def sweep_stale() -> None:
    """Delete engine namespaces whose creating process is gone (a run killed before cleanup)."""
    out = subprocess.run(["ip", "netns", "list"], check=False, capture_output=True, text=True, timeout=20).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = _NAME_RE.match(name)
        if m and not Path(f"/proc/{m[1]}").exists():
            _kill_netns_pids(name)
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True, timeout=20)


def _kill_netns_pids(ns: str) -> None:
    """SIGKILL what still runs in ``ns`` (our dockerd's containers kept by live-restore)."""
    out = subprocess.run(["ip", "netns", "pids", ns], check=False, capture_output=True, text=True, timeout=20).stdout
    for pid in out.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


class Engine:
    """dockerd + managed containerd in their own namespaces (see the module docstring).

    ``root`` is a short directory of the test (unix socket paths are limited to 108 bytes);
    ``plugins`` the directory holding docker-compose and docker-buildx, or None.
    """

    def __init__(
        self, root: Path, plugins: Path | None = None, daemon_json: dict[str, Any] | None = None,
        before_dockerd: Callable[[Engine], None] | None = None,
    ) -> None:
        self.token = secrets.token_hex(3)
        base = f"fse-{os.getpid()}-{self.token}"
        self.ns, self.vcn = f"{base}-e", f"{base}-v"
        self.root = root
        self.plugins = plugins
        self.daemon_json = daemon_json if daemon_json is not None else {}
        self.sock = root / "docker.sock"
        self.opt = root / "opt-flowstack"
        self.procs: list[subprocess.Popen[Any]] = []
        self.dockerd: subprocess.Popen[Any] | None = None
        self.log = root / "dockerd.log"
        # Runs after the network exists and before dockerd starts (an OCI boot loads rules.v4
        # and runs the firewall script before Docker is installed): netns_run(engine.ns, ...).
        self.before_dockerd = before_dockerd

    # -- set-up and tear-down

    def __enter__(self) -> Self:
        sweep_stale()
        try:
            self._network()
            if self.before_dockerd:
                self.before_dockerd(self)
            self._start_dockerd()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _network(self) -> None:
        e, v = self.ns, self.vcn
        for ns in (e, v):
            _ip("netns", "add", ns)
            self.netns_run(ns, ["ip", "link", "set", "lo", "up"])
        ve, vv = f"fe{self.token}e", f"fe{self.token}v"
        _ip("link", "add", ve, "type", "veth", "peer", "name", vv)
        _ip("link", "set", ve, "netns", e)
        _ip("link", "set", vv, "netns", v)
        self.netns_run(e, ["ip", "link", "set", ve, "name", "eth0"])
        self.netns_run(e, ["ip", "addr", "add", f"{ENGINE_IP}/24", "dev", "eth0"])
        self.netns_run(e, ["ip", "link", "set", "eth0", "up"])
        self.netns_run(e, ["ip", "route", "add", "default", "via", VCN_IP])
        self.netns_run(v, ["ip", "addr", "add", f"{VCN_IP}/24", "dev", vv])
        self.netns_run(v, ["ip", "addr", "add", f"{METADATA_IP}/32", "dev", "lo"])
        self.netns_run(v, ["ip", "link", "set", vv, "up"])
        # Replies to containers' MASQUERADEd packets go back to the engine's address.
        self.netns_run(v, ["ip", "route", "add", "default", "via", ENGINE_IP])

    def _start_dockerd(self) -> None:
        for d in ("etc-docker", "opt-flowstack", "data", "exec", "cli/cli-plugins"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.root / "etc-docker" / "daemon.json").write_text(json.dumps(self.daemon_json, indent=2) + "\n")
        # As on OCI: the VCN resolver answers at 169.254.169.254.
        (self.root / "resolv.conf").write_text(f"nameserver {METADATA_IP}\n")
        (self.root / "hosts").write_text("127.0.0.1 localhost\n")
        if self.plugins:
            for name in ("docker-compose", "docker-buildx"):
                link = self.root / "cli/cli-plugins" / name
                if (self.plugins / name).exists() and not link.exists():
                    link.symlink_to(self.plugins / name)
        cmd = [
            DOCKERD, "--config-file", str(self.root / "etc-docker/daemon.json"),
            "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "dockerd.pid"), "-H", f"unix://{self.sock}",
            "--iptables=true", "--ip-forward=true",
        ]
        # The host's layout decides: a cgroup2-only host (cgroup2fs) or v1 hierarchies on a tmpfs.
        cgroup_fs = subprocess.run(["stat", "-fc", "%T", "/sys/fs/cgroup"], capture_output=True, text=True, check=False, timeout=10).stdout.strip()
        env = {"PATH": PATH, "RIG": str(self.root), "CGROUPS": " ".join(CGROUP_V1), "CGROUP_FS": cgroup_fs, "HOME": str(self.root)}
        fh = self.log.open("ab")
        self.dockerd = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "unshare", "--mount", "--propagation", "private", "sh", "-c", _MOUNTS, "sh", *cmd],
            stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        fh.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.dockerd.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.dockerd.returncode}:\n{self.log.read_text(errors='replace')[-4000:]}")
            if self.sock.exists() and self.docker(["version", "--format", "{{.Server.Version}}"], check=False).returncode == 0:
                return
            time.sleep(0.3)
        raise RuntimeError(f"dockerd did not answer within 60 s:\n{self.log.read_text(errors='replace')[-4000:]}")

    def close(self) -> None:
        """Remove containers, stop dockerd and what it left (live-restore keeps containers), delete the namespaces."""
        for p in self.procs:
            stop(p)
        self.procs.clear()
        if self.dockerd is not None and self.dockerd.poll() is None:
            ids = self.docker(["ps", "-aq"], check=False, timeout=30).stdout.split()
            if ids:
                self.docker(["rm", "-f", *ids], check=False, timeout=120)
            stop(self.dockerd, grace=20)
        for ns in (self.ns, self.vcn):
            _kill_netns_pids(ns)
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=20)

    # -- running things

    @property
    def pid(self) -> int:
        """dockerd's pid (its mount namespace is "the server's" file system)."""
        return int((self.root / "dockerd.pid").read_text().strip())

    def env(self) -> dict[str, str]:
        return {"PATH": PATH, "HOME": str(self.root), "DOCKER_HOST": f"unix://{self.sock}", "DOCKER_CONFIG": str(self.root / "cli")}

    def docker(self, args: list[str], *, check: bool = True, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
        """Debian's docker CLI against this engine (run from the host; contexts travel over the API)."""
        return _run([DOCKER, *args], self.env(), check=check, timeout=timeout, **kw)

    def machine(self, cmd: list[str], *, check: bool = True, timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess[str]:
        """``cmd`` in the engine's network and mount namespaces ("on the server"); ``docker`` is Debian's CLI."""
        if cmd and cmd[0] == "docker":
            cmd = [DOCKER, *cmd[1:]]
        return _run(["nsenter", "-t", str(self.pid), "-m", "-n", "--", *cmd], self.env(), check=check, timeout=timeout, **kw)

    def netns_run(self, ns: str, cmd: list[str], *, check: bool = True, timeout: float = 30, **kw: Any) -> subprocess.CompletedProcess[str]:
        """``cmd`` in network namespace ``ns`` only (``engine.vcn`` for the VCN side)."""
        return _run(["ip", "netns", "exec", ns, *cmd], {"PATH": PATH}, check=check, timeout=timeout, **kw)

    def start_in_vcn(self, cmd: list[str], log: Path) -> subprocess.Popen[Any]:
        """A long-running process in the VCN namespace (a DNS responder, IMDS, STUN); stopped by ``close``."""
        fh = log.open("ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.vcn, *cmd], stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        fh.close()
        self.procs.append(p)
        return p

    def load(self, tarballs: list[Path]) -> None:
        """``docker load`` each image tarball (see tests/rig/engine_images.py)."""
        for t in tarballs:
            self.docker(["load", "-i", str(t)], timeout=300)


def _run(cmd: list[str], env: dict[str, str], *, check: bool, timeout: float, **kw: Any) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(cmd, env=env, check=False, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return p


def stop(p: subprocess.Popen[Any], grace: float = 5) -> None:
    """SIGTERM the process group, then SIGKILL after ``grace`` seconds."""
    if p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(5)
    except ProcessLookupError:
        pass


def plugin_dir() -> Path | None:
    """The Compose/buildx plugin directory tools/build-docker-plugins.sh made, or None if not built."""
    p = subprocess.run([str(ROOT / "tools/build-docker-plugins.sh"), "--print"], capture_output=True, text=True, check=False, timeout=10)
    d = Path(p.stdout.strip()) if p.returncode == 0 and p.stdout.strip() else None
    return d if d and (d / "docker-compose").exists() else None
