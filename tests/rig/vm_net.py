"""The VM rig's network: one namespace holding a bridge, the VM's tap and every server it talks to.

Layout (all inside the namespace ``fsvm-<pid>-<token>``; the host namespace gets nothing but the
unix socket of the apt proxy, which runs in the host namespace because only it reaches Debian)::

    br0 10.0.0.1/24 (+ 169.254.169.254/32, 10.0.0.2-6/32)  <-- tap0 -- QEMU (guest 10.0.0.10, DHCP)
    169.254.169.254:53  dnsmasq: DNS as on OCI (the VCN resolver); also DHCP on br0
    169.254.169.254:80  IMDSv2 stand-in     10.0.0.2:80   apt proxy (socat -> unix socket)
    10.0.0.3:443 registry-1.docker.io      10.0.0.4:443  github.com (git, dumb HTTP)
    10.0.0.5:19302/3478 STUN                10.0.0.6      ACME CA (Pebble), when started

The rig's DNS answers only the names listed in ``names`` (everything else: no answer), so a
guest that tried to reach anything real would fail visibly.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BRIDGE_IP = "10.0.0.1"
APT_IP, REGISTRY_IP, GIT_IP, STUN_IP, ACME_IP = "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"
GUEST_IP = "10.0.0.10"
GUEST_MAC = "02:00:17:00:00:10"  # OCI's VNIC MACs start with 02:00:17
IMDS_IP = "169.254.169.254"
HERE = Path(__file__).resolve().parent
_NAME_RE = re.compile(r"^fsvm-(\d+)-[0-9a-f]{6}$")


def sweep_stale() -> None:
    """Delete rig namespaces whose creating process is gone (a run killed before cleanup)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        name = (line.split() or [""])[0]
        m = _NAME_RE.match(name)
        if m and not Path(f"/proc/{m[1]}").exists():
            subprocess.run(["ip", "netns", "pids", name], capture_output=True, check=False)
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
            shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)


class RigNet:
    """The namespace and its servers. ``start(names)`` then ``close()``; ``run`` executes inside."""

    def __init__(self, state: Path) -> None:
        self.ns = f"fsvm-{os.getpid()}-{secrets.token_hex(3)}"
        self.state = state
        self.procs: dict[str, subprocess.Popen[Any]] = {}

    def sh(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.ns, *cmd], capture_output=True, text=True,
                              check=check, timeout=timeout)

    def spawn(self, name: str, cmd: list[str], netns: bool = True) -> subprocess.Popen[Any]:
        log = open(self.state / f"{name}.out", "ab")  # noqa: SIM115 (closed with the process)
        full = ["ip", "netns", "exec", self.ns, *cmd] if netns else cmd
        proc = subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(10)

    def start_network(self) -> None:
        sweep_stale()
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        cmds = [
            "ip link set lo up",
            "ip link add br0 type bridge", "ip link set br0 up",
            f"ip addr add {BRIDGE_IP}/24 dev br0",
            *[f"ip addr add {a}/32 dev br0" for a in (IMDS_IP, APT_IP, REGISTRY_IP, GIT_IP, STUN_IP, ACME_IP)],
            "ip tuntap add dev tap0 mode tap", "ip link set tap0 master br0", "ip link set tap0 up",
        ]
        for c in cmds:
            self.sh(*c.split())
        # A client in the namespace (the tests' Socket.IO and LiveKit clients) resolves names as
        # the guest does, through the rig's DNS: `ip netns exec` binds /etc/netns/<ns>/resolv.conf.
        etc = Path("/etc/netns") / self.ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(f"nameserver {IMDS_IP}\n", encoding="utf-8")

    def start_dns(self, names: dict[str, str]) -> None:
        """dnsmasq: DHCP on br0 (the guest always gets GUEST_IP) and DNS on 169.254.169.254:53."""
        args = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--bind-interfaces", f"--listen-address={IMDS_IP}", "--except-interface=lo",
                f"--dhcp-range={GUEST_IP},{GUEST_IP},255.255.255.0,12h",
                f"--dhcp-host={GUEST_MAC},{GUEST_IP}",
                f"--dhcp-option=option:router,{BRIDGE_IP}", f"--dhcp-option=option:dns-server,{IMDS_IP}",
                f"--dhcp-leasefile={self.state}/dnsmasq.leases", f"--pid-file={self.state}/dnsmasq.pid",
                "--log-queries", "--log-dhcp", f"--log-facility={self.state}/dnsmasq.log", "--user=root"]
        args += [f"--host-record={name},{ip}" for name, ip in sorted(names.items())]
        self.spawn("dnsmasq", args)

    def start_apt(self, cache: Path, shim: Path, fail_once: str | None = None) -> None:
        sock = self.state / "apt.sock"
        cmd = [sys.executable, str(HERE / "apt_proxy.py"), "--cache", str(cache), "--shim", str(shim),
               "--unix", str(sock), "--log", str(self.state / "apt.log")]
        self.spawn("apt-proxy", cmd + (["--fail-once", fail_once] if fail_once else []), netns=False)
        wait_for(sock.exists, 20, "apt proxy socket")
        self.spawn("apt-socat", ["socat", f"TCP-LISTEN:80,bind={APT_IP},fork,reuseaddr", f"UNIX-CONNECT:{sock}"])

    def start_services(self, args: list[str]) -> None:
        (self.state / "imds").mkdir(exist_ok=True)
        self.spawn("services", [sys.executable, str(HERE / "vm_services.py"), "--state", str(self.state),
                                "--registry-ip", REGISTRY_IP, "--git-ip", GIT_IP, "--stun-ip", STUN_IP, *args])
        wait_for((self.state / "services.ready").exists, 30, "rig services")

    def start_pebble(self, pebble: Path, cert: Path, key: Path) -> None:
        """Pebble (the ACME CA) on ACME_IP:14000, validating through the rig's DNS; the ACME front
        in vm_services.py answers for Let's Encrypt's name on ACME_IP:443."""
        cfg = {"pebble": {"listenAddress": f"{ACME_IP}:14000", "managementListenAddress": f"{ACME_IP}:15000",
                          "certificate": str(cert), "privateKey": str(key), "httpPort": 80, "tlsPort": 443,
                          "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        (self.state / "pebble.json").write_text(json.dumps(cfg), encoding="utf-8")
        self.spawn("pebble", ["env", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", str(pebble), "-config",
                              str(self.state / "pebble.json"), "-dnsserver", f"{IMDS_IP}:53"])

    def pebble_root(self) -> str:
        """The PEM of the root Pebble issues under (what a browser would trust for the test)."""
        return self.sh("curl", "-fsSk", f"https://{ACME_IP}:15000/roots/0").stdout

    def close(self) -> None:
        for name in list(self.procs)[::-1]:
            self.stop(name)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, check=False)
        shutil.rmtree(Path("/etc/netns") / self.ns, ignore_errors=True)


def wait_for(pred: Any, timeout: float, what: str, every: float = 0.2) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(every)
    raise TimeoutError(f"{what}: not there after {timeout:.0f} s")


def make_shim_repo(out: Path, plugins: Path) -> Path:
    """A flat apt repository with Ubuntu's ``docker-compose-v2`` and ``docker-buildx`` package
    names, each holding the CLI plugin binary built from the Go module proxy (``plugins``)."""
    out.mkdir(parents=True, exist_ok=True)
    for pkg, binary in (("docker-compose-v2", "docker-compose"), ("docker-buildx", "docker-buildx")):
        root = out / f"{pkg}.root"
        shutil.rmtree(root, ignore_errors=True)
        dest = root / "usr/libexec/docker/cli-plugins"
        dest.mkdir(parents=True)
        shutil.copy2(plugins / binary, dest / binary)
        (root / "DEBIAN").mkdir()
        (root / "DEBIAN/control").write_text(
            f"Package: {pkg}\nVersion: 99.0-flowstackrig\nArchitecture: amd64\nMaintainer: flowstack VM rig <rig@invalid>\n"
            f"Depends: docker.io\nDescription: flowstack VM rig shim: the {binary} CLI plugin under Ubuntu's package name\n",
            encoding="utf-8")
        subprocess.run(["dpkg-deb", "--build", "-Zgzip", "-z1", str(root), str(out / f"{pkg}.deb")],
                       check=True, capture_output=True)
        shutil.rmtree(root)
    pkgs = subprocess.run(["apt-ftparchive", "packages", "."], cwd=out, check=True, capture_output=True, text=True).stdout
    (out / "Packages").write_text(pkgs, encoding="utf-8")
    release = subprocess.run(["apt-ftparchive", "release", "."], cwd=out, check=True, capture_output=True, text=True).stdout
    (out / "Release").write_text(release, encoding="utf-8")
    return out
