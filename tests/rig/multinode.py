"""Several LiveKit nodes in network namespaces, as a scaled stack runs them on OCI (issue 25).

Topology (namespaces this module creates; nothing leaves them)::

    client ns 198.18.1.2 --veth-- router ns (198.18.1.1; bridge 10.77.0.1/24) --bridge-- node ns i 10.77.0.(1+i)
    router: 1:1 NAT 198.18.0.(10+i) <-> 10.77.0.(1+i) per node (each node's reserved public IP),
            HAProxy on 198.18.0.20:7880, mode tcp, `balance source` to every node's 7880:
            the stand-in for OCI's Network Load Balancer (TWO_TUPLE), which cannot run here.

Node 1 also runs Redis (Debian's redis-server with the stack's redis.conf and a password), as
the scaled stack runs it on node 1. LiveKit runs with each node's generated livekit.yaml.
Edits to generated files, returned in ``edits``: rtc.use_external_ip false and rtc.node_ip (no
STUN here), redis.address -> node 1's address (no VCN DNS here), redis.password -> the
rig's password (the preview's sample value), and redis.conf's dir/port -> the test's.
Replaced: Docker (processes run in the node namespaces with host networking, as compose asks),
Caddy/TLS (clients reach LiveKit's 7880 directly: signalling through the HAProxy stand-in or a
node's address), OCI's NLB (HAProxy), the VCN's DNS (addresses), the host firewall (not loaded:
7880 is Caddy's on a real node).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from typing_extensions import Self

from .netns import Topology, stop, sweep_stale

CLIENT = Path(__file__).resolve().parent / "lk_client.py"
LB_IP = "198.18.0.20"
PASSWORD = "rigredispassword0123456789"


def node_ip(i: int) -> str:
    return f"10.77.0.{1 + i}"


def public_ip(i: int) -> str:
    return f"198.18.0.{10 + i}"


class Nodes(Topology):
    """A router, a client and ``n`` node namespaces (names as in rig.netns: swept the same way)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        base = f"fslk-{os.getpid()}-{self.token}"
        # One letter per namespace, as rig.netns's sweeper expects (s, r, c): nodes reuse "s" with a digit token.
        self.ns = {"router": f"{base}-r", "client": f"{base}-c"}
        self.node_tokens = [secrets.token_hex(3) for _ in range(n)]
        for i in range(1, n + 1):
            self.ns[f"node{i}"] = f"fslk-{os.getpid()}-{self.node_tokens[i - 1]}-s"

    def _build(self) -> None:
        r, c = self.ns["router"], self.ns["client"]
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True, timeout=20)
            self.run(ns, ["ip", "link", "set", "lo", "up"])
        self.run(r, ["ip", "link", "add", "br0", "type", "bridge"])
        self.run(r, ["ip", "addr", "add", "10.77.0.1/24", "dev", "br0"])
        self.run(r, ["ip", "link", "set", "br0", "up"])
        vc, vr = f"fv{self.token}c", f"fv{self.token}b"
        subprocess.run(["ip", "link", "add", vc, "type", "veth", "peer", "name", vr], check=True, capture_output=True, timeout=20)
        subprocess.run(["ip", "link", "set", vc, "netns", c], check=True, capture_output=True, timeout=20)
        subprocess.run(["ip", "link", "set", vr, "netns", r], check=True, capture_output=True, timeout=20)
        self.run(c, ["ip", "addr", "add", "198.18.1.2/24", "dev", vc])
        self.run(c, ["ip", "link", "set", vc, "up"])
        self.run(c, ["ip", "route", "add", "default", "via", "198.18.1.1"])
        self.run(r, ["ip", "addr", "add", "198.18.1.1/24", "dev", vr])
        self.run(r, ["ip", "addr", "add", f"{LB_IP}/32", "dev", "lo"])
        self.run(r, ["ip", "link", "set", vr, "up"])
        for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.all.rp_filter=0"):
            self.run(r, ["sysctl", "-q", "-w", key])
        for i in range(1, self.n + 1):
            ns, a, b = self.ns[f"node{i}"], f"fv{self.node_tokens[i - 1]}n", f"fv{self.node_tokens[i - 1]}p"
            subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True, capture_output=True, timeout=20)
            subprocess.run(["ip", "link", "set", a, "netns", ns], check=True, capture_output=True, timeout=20)
            subprocess.run(["ip", "link", "set", b, "netns", r], check=True, capture_output=True, timeout=20)
            self.run(r, ["ip", "link", "set", b, "master", "br0"])
            self.run(r, ["ip", "link", "set", b, "up"])
            self.run(ns, ["ip", "addr", "add", f"{node_ip(i)}/24", "dev", a])
            self.run(ns, ["ip", "link", "set", a, "up"])
            self.run(ns, ["ip", "route", "add", "default", "via", "10.77.0.1"])
            self.run(r, ["iptables", "-t", "nat", "-A", "PREROUTING", "-d", public_ip(i), "-j", "DNAT", "--to-destination", node_ip(i)])
            self.run(r, ["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", node_ip(i), "!", "-d", "10.77.0.0/24", "-j", "SNAT", "--to-source", public_ip(i)])

    def __enter__(self) -> Self:
        sweep_stale()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    # -- the stack's processes

    def start_redis(self, conf_text: str, work: Path) -> subprocess.Popen[Any]:
        conf = conf_text.replace("dir /data", f"dir {work}") + f"requirepass {PASSWORD}\n"
        (work / "redis.conf").write_text(conf)
        exe = shutil.which("redis-server") or "redis-server"
        p = self.start("node1", [exe, str(work / "redis.conf")], work / "redis.log")
        self.wait_tcp("node1", node_ip(1), 6379, p, work / "redis.log")
        return p

    def livekit_config(self, generated: dict[str, Any], i: int) -> tuple[dict[str, Any], list[str]]:
        lk = yaml.safe_load(yaml.safe_dump(generated))
        lk["rtc"]["use_external_ip"] = False
        lk["rtc"]["node_ip"] = public_ip(i)
        lk["redis"]["address"] = f"{node_ip(1)}:6379"
        lk["redis"]["password"] = PASSWORD
        edits = ["livekit.yaml rtc.use_external_ip: true -> false (no STUN here)", "livekit.yaml rtc.node_ip: the node's rig public address",
                 "livekit.yaml redis.address: node 1's VCN name -> its rig address (no VCN DNS here)",
                 "livekit.yaml redis.password: the rig's (the preview's is a sample)"]
        return lk, edits

    def start_livekit(self, i: int, lk: dict[str, Any], binary: Path, work: Path) -> subprocess.Popen[Any]:
        d = work / f"node{i}"
        d.mkdir(exist_ok=True)
        (d / "livekit.yaml").write_text(yaml.safe_dump(lk, sort_keys=False))
        p = self.start(f"node{i}", [str(binary), "--config", str(d / "livekit.yaml")], d / "livekit.log", cwd=d)
        self.wait_tcp(f"node{i}", "127.0.0.1", int(lk.get("port", 7880)), p, d / "livekit.log", timeout=60)
        return p

    def start_haproxy(self, work: Path, port: int = 7880) -> subprocess.Popen[Any]:
        servers = "".join(f"  server n{i} {node_ip(i)}:{port} check inter 1s\n" for i in range(1, self.n + 1))
        (work / "haproxy.cfg").write_text(
            "global\n  maxconn 256\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\n"
            f"frontend lb\n  bind {LB_IP}:{port}\n  default_backend nodes\n"
            f"backend nodes\n  balance source\n{servers}")
        exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
        p = self.start("router", [exe, "-db", "-f", str(work / "haproxy.cfg")], work / "haproxy.log")
        self.wait_tcp("router", LB_IP, port, p, work / "haproxy.log")
        return p

    def client(self, sub_url: str, pub_url: str, key: str, secret: str, room: str, seconds: float = 25, timeout: float = 120) -> dict[str, Any]:
        import json

        cmd = [sys.executable, str(CLIENT), "--url", sub_url, "--pub-url", pub_url, "--key", key, "--secret", secret, "--room", room, "--seconds", str(seconds)]
        p = self.run("client", cmd, check=False, timeout=timeout)
        lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"client printed no result (exit {p.returncode}):\n{p.stderr[-3000:]}")
        out: dict[str, Any] = json.loads(lines[-1])
        return out

    def stop_proc(self, p: subprocess.Popen[Any]) -> None:
        stop(p)
