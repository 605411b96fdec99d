"""Network namespaces for the LiveKit rig: a server host behind a 1:1 NAT, as on OCI, and a client.

Topology (all inside namespaces this module creates; nothing leaves them)::

    client ns  198.18.1.2/24 --veth-- 198.18.1.1  router ns  10.77.0.1 --veth-- 10.77.0.2/24 server ns
                                       DNAT 198.18.0.10 -> 10.77.0.2, SNAT back (OCI's public IP)

The server only sees its private address, like an OCI VM; clients reach it at the "public"
198.18.0.10 (RFC 2544 benchmarking range, kept off the internet by definition). A public-like
address is needed, not 10.x: LiveKit's TURN refuses to relay to private peers by default
(turn.allow_restricted_peer_cidrs), and LiveKit's own candidates are the peer. Hairpin traffic
(TURN relay <-> LiveKit media) goes through the router and comes back through the server's
firewall exactly as it does through OCI's NAT.

Names carry this process's pid and a random token, so parallel runs never collide, and
``sweep_stale`` removes namespaces left by a process that no longer exists.

Example:
    with Topology() as topo:
        topo.run("server", ["iptables", "-S"])
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from typing_extensions import Self

PUBLIC_IP = "198.18.0.10"
SERVER_IP = "10.77.0.2"
ROUTER_SERVER_SIDE = "10.77.0.1"
CLIENT_IP = "198.18.1.2"
ROUTER_CLIENT_SIDE = "198.18.1.1"
_NAME_RE = re.compile(r"^fslk-(\d+)-[0-9a-f]{6}-[src]$")


def _ip(*args: str, timeout: float = 20) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=timeout)


def sweep_stale() -> None:
    """Delete rig namespaces whose creating process is gone (a run killed before cleanup)."""
    out = subprocess.run(["ip", "netns", "list"], check=False, capture_output=True, text=True, timeout=20).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = _NAME_RE.match(name)
        if m and not Path(f"/proc/{m[1]}").exists():
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True, timeout=20)
            shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)


class Topology:
    """Three namespaces (server, router, client) wired as in the module docstring.

    Example: ``with Topology(hosts=["lk.example"]) as t: t.run("client", ["ip", "a"])``.
    """

    def __init__(self, hosts: list[str] | None = None) -> None:
        self.token = secrets.token_hex(3)
        base = f"fslk-{os.getpid()}-{self.token}"
        self.ns = {"server": f"{base}-s", "router": f"{base}-r", "client": f"{base}-c"}
        self.hosts = hosts or []
        self.procs: list[subprocess.Popen[Any]] = []

    # -- set-up and tear-down

    def __enter__(self) -> Self:
        sweep_stale()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        s, r, c = self.ns["server"], self.ns["router"], self.ns["client"]
        # /etc/netns/<ns>/hosts is bind-mounted over /etc/hosts by `ip netns exec`.
        etc = Path(f"/etc/netns/{c}")
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text("127.0.0.1 localhost\n" + "".join(f"{PUBLIC_IP} {h}\n" for h in self.hosts))
        for ns in (s, r, c):
            _ip("netns", "add", ns)
            self.run(ns, ["ip", "link", "set", "lo", "up"])
        vs, vr1, vr2, vc = (f"fv{self.token}{x}" for x in ("s", "a", "b", "c"))
        _ip("link", "add", vs, "type", "veth", "peer", "name", vr1)
        _ip("link", "add", vc, "type", "veth", "peer", "name", vr2)
        _ip("link", "set", vs, "netns", s)
        _ip("link", "set", vr1, "netns", r)
        _ip("link", "set", vr2, "netns", r)
        _ip("link", "set", vc, "netns", c)
        self.run(s, ["ip", "addr", "add", f"{SERVER_IP}/24", "dev", vs])
        self.run(s, ["ip", "link", "set", vs, "up"])
        self.run(s, ["ip", "route", "add", "default", "via", ROUTER_SERVER_SIDE])
        self.run(c, ["ip", "addr", "add", f"{CLIENT_IP}/24", "dev", vc])
        self.run(c, ["ip", "link", "set", vc, "up"])
        self.run(c, ["ip", "route", "add", "default", "via", ROUTER_CLIENT_SIDE])
        self.run(r, ["ip", "addr", "add", f"{ROUTER_SERVER_SIDE}/24", "dev", vr1])
        self.run(r, ["ip", "addr", "add", f"{ROUTER_CLIENT_SIDE}/24", "dev", vr2])
        for v in (vr1, vr2):
            self.run(r, ["ip", "link", "set", v, "up"])
        for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.all.rp_filter=0"):
            self.run(r, ["sysctl", "-q", "-w", key])
        # OCI's 1:1 NAT: the public address maps to the VM's private one, both ways, hairpin included.
        self.run(r, ["iptables", "-t", "nat", "-A", "PREROUTING", "-d", PUBLIC_IP, "-j", "DNAT", "--to-destination", SERVER_IP])
        self.run(r, ["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", SERVER_IP, "-j", "SNAT", "--to-source", PUBLIC_IP])

    def close(self) -> None:
        """Stop every process started here, then delete the namespaces (idempotent)."""
        for p in self.procs:
            stop(p)
        self.procs.clear()
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=20)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)

    # -- running things inside

    def name(self, ns: str) -> str:
        return self.ns.get(ns, ns)

    def run(self, ns: str, cmd: list[str], timeout: float = 30, check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` in namespace ``ns`` ("server", "router", "client" or a full name)."""
        p = subprocess.run(["ip", "netns", "exec", self.name(ns), *cmd], check=False, capture_output=True, text=True, timeout=timeout, **kw)
        if check and p.returncode:
            raise RuntimeError(f"{' '.join(cmd)} in {ns}: exit {p.returncode}: {p.stderr.strip()}")
        return p

    def start(self, ns: str, cmd: list[str], log: Path, **kw: Any) -> subprocess.Popen[Any]:
        """Start a long-running process in ``ns``; it is stopped by ``close``."""
        fh = log.open("ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.name(ns), *cmd], stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        fh.close()
        self.procs.append(p)
        return p

    def wait_tcp(self, ns: str, host: str, port: int, proc: subprocess.Popen[Any], log: Path, timeout: float = 30) -> None:
        """Until something in ``ns`` accepts on host:port; fail early if ``proc`` exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode} before listening on {port}:\n{log.read_text(errors='replace')[-3000:]}")
            if self.run(ns, ["bash", "-c", f"exec 3<>/dev/tcp/{host}/{port}"], check=False, timeout=10).returncode == 0:
                return
            time.sleep(0.3)
        raise RuntimeError(f"nothing listening on {host}:{port} in {ns} after {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


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


def input_counters(topo: Topology) -> dict[str, int]:
    """Packets each ACCEPT rule of the server's INPUT chain (and flowstack's FLOWSTACK-INPUT, jumped
    to from it) matched, keyed by its rule spec."""
    out = topo.run("server", ["iptables", "-S", "INPUT", "-v"]).stdout + topo.run("server", ["iptables", "-S", "FLOWSTACK-INPUT", "-v"]).stdout
    counters: dict[str, int] = {}
    for line in out.splitlines():
        # iptables -S -v puts "-c PACKETS BYTES" before the target: "... --dport 3478 -c 5 900 -j ACCEPT"
        m = re.match(r"^-A (?:INPUT|FLOWSTACK-INPUT) (.*) -c (\d+) (\d+) (-j ACCEPT)$", line)
        if m:
            counters[f"{m[1]} {m[4]}"] = int(m[2])
            continue
        # the rig's accounting rules: "-p udp -m udp --dport 3478 -m comment --comment rig-count -c 5 900"
        m = re.match(r"^-A INPUT -p (\w+) -m \w+ --dport (\S+) -m comment --comment rig-count -c (\d+) (\d+)$", line)
        if m:
            counters[f"all {m[1]} {m[2]}"] = int(m[3])
            continue
        # ... and those counting only packets that are not replies: "new udp 30000:40000"
        m = re.match(r"^-A INPUT -p (\w+) -m \w+ --dport (\S+) -m conntrack --ctstate NEW -m comment --comment rig-count-new -c (\d+) (\d+)$", line)
        if m:
            counters[f"new {m[1]} {m[2]}"] = int(m[3])
    return counters
