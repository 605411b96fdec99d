"""Issue 25, step 3's mechanism, with real Caddy and a real ACME CA: Caddy instances on one
storage answer an ACME challenge that another instance started, so a load balancer may send
the CA's validation to any node (docs/scale-out.md, "TLS across nodes").

Real: the Caddy build in .tools (Caddy 2.11.4 with layer4, tools/build-caddy-l4.sh), Pebble (the
ACME test CA, ~/.cache/flowstack/pebble-v2.7.0, built by the vm rig's tools/build-pebble.sh),
HAProxy, in network namespaces (tests/rig/multinode.py). Replaced: NFS by one directory both
Caddy processes use (on a real node 2 it is node 1's export, mounted at the same path; the
kernel NFS server cannot run here), Let's Encrypt by Pebble, and the generated Caddyfile by a
minimal one with the same storage and ACME settings (the CA and its root are the test's).
The CA's validations reach node 2 only (HAProxy), while node 1 orders the certificate.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from rig.multinode import LB_IP, Nodes, node_ip

pytestmark = [pytest.mark.slow, pytest.mark.multinode]

ROOT = Path(__file__).resolve().parents[2]
CADDY = ROOT / ".tools" / "caddy-l4-v2.11.4-v0.1.2" / "caddy"
PEBBLE = Path.home() / ".cache" / "flowstack" / "pebble-v2.7.0" / "pebble"
NAME = "space-socket.example.com"
ACME_IP = "10.77.0.1"  # Pebble listens on the router's bridge address


def _caddyfile(storage: Path, ca_root: Path, site: bool, node: int) -> str:
    body = f"{NAME} {{\n  respond \"node {node}\"\n}}\n" if site else ":80 {\n  respond \"idle\"\n}\n"
    return ("{\n  admin off\n  persist_config off\n"
            f"  storage file_system {storage}\n  acme_ca https://{ACME_IP}:14000/dir\n  acme_ca_root {ca_root}\n"
            f"  default_bind {node_ip(node)}\n}}\n" + body)


def _pebble(topo: Nodes, work: Path) -> None:
    key, cert = work / "pebble.key", work / "pebble.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=pebble", "-addext", f"subjectAltName=IP:{ACME_IP}"], check=True, capture_output=True, timeout=60)
    cfg = {"pebble": {"listenAddress": f"{ACME_IP}:14000", "managementListenAddress": f"{ACME_IP}:15000", "certificate": str(cert),
                      "privateKey": str(key), "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": False}}
    (work / "pebble.json").write_text(json.dumps(cfg))
    # The CA resolves the name through the router namespace's /etc/hosts: the load balancer's address.
    Path(f"/etc/netns/{topo.ns['router']}").mkdir(parents=True, exist_ok=True)
    Path(f"/etc/netns/{topo.ns['router']}/hosts").write_text(f"127.0.0.1 localhost\n{LB_IP} {NAME}\n")
    p = topo.start("router", ["env", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0", str(PEBBLE), "-config", str(work / "pebble.json")],
                   work / "pebble.log")
    topo.wait_tcp("router", ACME_IP, 14000, p, work / "pebble.log")


def _haproxy_to_node2(topo: Nodes, work: Path) -> None:
    cfg = "global\n  maxconn 64\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
    for port in (80, 443):
        cfg += f"frontend f{port}\n  bind {LB_IP}:{port}\n  default_backend b{port}\nbackend b{port}\n  server n2 {node_ip(2)}:{port}\n"
    (work / "haproxy.cfg").write_text(cfg)
    p = topo.start("router", ["/usr/sbin/haproxy", "-db", "-f", str(work / "haproxy.cfg")], work / "haproxy.log")
    topo.wait_tcp("router", LB_IP, 80, p, work / "haproxy.log")


def _caddy(topo: Nodes, i: int, work: Path, text: str) -> subprocess.Popen:  # type: ignore[type-arg]
    d = work / f"caddy{i}"
    d.mkdir(exist_ok=True)
    (d / "Caddyfile").write_text(text)
    env = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={d}", f"XDG_DATA_HOME={d}/data", f"XDG_CONFIG_HOME={d}/config"]
    return topo.start(f"node{i}", [*env, str(CADDY), "run", "--config", str(d / "Caddyfile"), "--adapter", "caddyfile"], d / "caddy.log", cwd=d)


def _issued(storage: Path) -> list[Path]:
    return sorted(storage.glob(f"certificates/*/{NAME}/{NAME}.crt"))


def _run(tmp_path: Path, shared: bool) -> tuple[list[Path], str]:
    for tool in (CADDY, PEBBLE, Path("/usr/sbin/haproxy")):
        if not tool.exists():
            pytest.fail(f"{tool} is missing (make caddy-l4; the vm rig's build-pebble.sh; tools/ensure-system-deps.sh)")
    with Nodes(2) as topo:
        _pebble(topo, tmp_path)
        _haproxy_to_node2(topo, tmp_path)
        ca_root = tmp_path / "pebble.pem"
        s1 = tmp_path / "storage-shared"
        s2 = s1 if shared else tmp_path / "storage-node2"
        # Node 2 holds no order of its own: it can only answer from the storage.
        _caddy(topo, 2, tmp_path, _caddyfile(s2, ca_root, site=False, node=2))
        topo.wait_tcp("node2", node_ip(2), 80, topo.procs[-1], tmp_path / "caddy2" / "caddy.log")
        _caddy(topo, 1, tmp_path, _caddyfile(s1, ca_root, site=True, node=1))
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not _issued(s1):
            time.sleep(0.5)
        return _issued(s1), (tmp_path / "caddy1" / "caddy.log").read_text(errors="replace")


def test_a_challenge_reaching_the_other_node_is_answered_from_shared_storage(tmp_path: Path) -> None:
    issued, log = _run(tmp_path, shared=True)
    assert issued, log[-3000:]


def test_without_shared_storage_the_other_node_cannot_answer(tmp_path: Path) -> None:
    issued, log = _run(tmp_path, shared=False)
    assert not issued
    assert "challenge" in log.lower() or "error" in log.lower(), log[-2000:]
