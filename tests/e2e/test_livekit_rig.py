"""Real LiveKit in the loop: the pinned server, the current client SDK, media through the
generated firewall (issue 12).

What runs for real: livekit-server at the version data/versions.yaml pins, built from the Go
module proxy (tools/build-livekit.sh); Caddy (Debian's, with the generated Caddyfile and its
internal CA; for turn.via_caddy the layer4 build of tools/build-caddy-l4.sh with the generated
caddy.json); OCI's Ubuntu rules.v4 with the generated firewall script run over it, in a server
network namespace behind an emulated 1:1 NAT (tests/rig/netns.py); and two participants of the
PyPI ``livekit`` SDK (native WebRTC core) in a client namespace whose /etc/hosts maps the stack's
host names to the server's public address and which trusts Caddy's root (SSL_CERT_FILE).

Replaced, and why: Docker (no engine here) -- the processes run on the host, in the server
namespace, with the host networking the compose file asks for. The edits to generated files are
listed in tests/rig/stack.py and asserted below (`EDITS`): the node IP (no STUN here) and, in
via_caddy mode, Caddy's storage path.

Each test starts its own namespaces and processes and removes them even on failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rig.netns import PUBLIC_IP, Topology, input_counters
from rig.stack import Stack, drop_firewall_rule, preview

from generator.core.versions import versions
from generator.derive.livekit import unknown_keys

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LK_VERSION = versions()["livekit_server"]["version"]
_L4 = versions()["caddy_l4"]
LIVEKIT_BIN = ROOT / ".tools" / f"livekit-server-{LK_VERSION}" / "server"
CADDY_L4_BIN = ROOT / ".tools" / f"caddy-l4-{_L4['caddy']}-{_L4['caddy_l4']}" / "caddy"
LIVEKIT_HOST = "space-livekit.flow-coder.com"
SOCKET_HOST = "space-socket.flow-coder.com"
TURN_HOST = "space-turn.flow-coder.com"
EDITS = {
    "livekit.yaml rtc.use_external_ip: true -> false (no STUN here)",
    f"livekit.yaml rtc.node_ip: {PUBLIC_IP} (the rig's public address)",
}
EDITS_VIA_CADDY = EDITS | {"caddy.json storage.root: /data -> the test's directory (a local path)"}
MEDIA_RANGE = "-p udp -m udp --dport 50000:60000 -j ACCEPT"
ICE_TCP = "-p tcp -m state --state NEW -m tcp --dport 7881 -j ACCEPT"
TURN_UDP = "-p udp -m udp --dport 3478 -j ACCEPT"
HTTPS = "-p tcp -m state --state NEW -m tcp --dport 443 -j ACCEPT"


def _build(script: str, binary: Path) -> Path:
    """The build scripts are idempotent; `make test` has run them already on a fresh machine."""
    if not binary.exists():
        subprocess.run([str(ROOT / "tools" / script)], check=True, timeout=1800, cwd=ROOT)
    return binary


@pytest.fixture(scope="module")
def livekit_bin() -> Path:
    if shutil.which("ip") is None or subprocess.run(["id", "-u"], check=False, capture_output=True, text=True).stdout.strip() != "0":
        pytest.fail("the LiveKit rig needs root and iproute2 (network namespaces); CI runs as root")
    return _build("build-livekit.sh", LIVEKIT_BIN)


@pytest.fixture(scope="module")
def caddy_l4_bin() -> Path:
    return _build("build-caddy-l4.sh", CADDY_L4_BIN)


def _config(tmp: Path, via_caddy: bool = False) -> Path:
    """The reference stack with tls.mode internal (ACME cannot reach Let's Encrypt here)."""
    cfg = yaml.safe_load((ROOT / "stacks" / "flowspace.yaml").read_text())
    cfg["tls"] = {"mode": "internal"}
    if via_caddy:
        cfg["domains"]["turn_host"] = TURN_HOST
        cfg["livekit"]["turn"].update({"tls_port": 5349, "via_caddy": True})
    path = tmp / "flowstack.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


class Rig:
    """One topology and stack for one test."""

    def __init__(self, topo: Topology, stack: Stack) -> None:
        self.topo, self.stack = topo, stack

    def client_only(self, *allowed: list[str]) -> None:
        """Client namespace: drop every outgoing packet except loopback and ``allowed`` matches."""
        self.topo.run("client", ["iptables", "-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT"])
        for spec in allowed:
            self.topo.run("client", ["iptables", "-A", "OUTPUT", *spec, "-j", "ACCEPT"])
        self.topo.run("client", ["iptables", "-A", "OUTPUT", "-j", "DROP"])

    def media(self, relay: bool = False, seconds: float = 25) -> dict[str, Any]:
        t0 = time.monotonic()
        out = self.stack.client(self.topo, relay=relay, seconds=seconds)
        out["wall_s"] = round(time.monotonic() - t0, 1)
        out["counters"] = input_counters(self.topo)
        print(f"client result: { {k: v for k, v in out.items() if k != 'stderr_tail'} }")
        return out


@pytest.fixture
def rig_factory(tmp_path: Path, livekit_bin: Path) -> Iterator[Any]:
    topos: list[Topology] = []

    def make(*, via_caddy: bool = False, caddy: Path | None = None, drop: str | None = None) -> Rig:
        pv = preview(_config(tmp_path, via_caddy), tmp_path / "preview")
        script = (pv / "files/usr/local/sbin/flowstack-firewall").read_text()
        if drop:
            script = drop_firewall_rule(script, drop)
        topo = Topology([LIVEKIT_HOST, SOCKET_HOST, TURN_HOST])
        topos.append(topo)
        topo.__enter__()
        work = tmp_path / "work"
        work.mkdir()
        stack = Stack.start(topo, pv, work, livekit_bin, caddy or Path(shutil.which("caddy") or "caddy"), LIVEKIT_HOST, firewall=script)
        assert len(stack.edits) == len(set(stack.edits)) and set(stack.edits) == (EDITS_VIA_CADDY if via_caddy else EDITS), stack.edits
        return Rig(topo, stack)

    yield make
    for t in topos:
        t.close()


def _frames_ok(r: dict[str, Any]) -> bool:
    return r["error"] is None and r["video_frames"] >= 30 and r["audio_frames"] >= 100


def _pairs(r: dict[str, Any]) -> list[dict[str, Any]]:
    return list(r.get("sender", [])) + list(r.get("receiver", []))


def test_two_participants_exchange_media_through_wss_443(rig_factory: Any) -> None:
    """Tokens signed with the stack's key and secret; signalling over wss://<livekit host>:443."""
    rig = rig_factory()
    assert rig.stack.url == f"wss://{LIVEKIT_HOST}"
    r = rig.media()
    assert _frames_ok(r), r
    assert r["counters"][HTTPS] >= 2  # both participants' signalling came in through 443


def test_media_arrives_over_the_udp_media_range(rig_factory: Any) -> None:
    r = rig_factory().media()
    assert _frames_ok(r), r
    pairs = _pairs(r)
    assert pairs and all(p["local"]["protocol"] == "udp" and p["remote"]["candidate_type"] == "HOST" for p in pairs), pairs
    assert all(50000 <= p["remote"]["port"] <= 60000 and p["remote"]["address"] == PUBLIC_IP for p in pairs), pairs
    assert sum(p["bytes_received"] for p in pairs) > 20000
    # Every packet, counted by the rig's accounting rule (the ACCEPT rule itself sees only a
    # flow's first packet when it is inbound-first; conntrack takes the rest).
    assert r["counters"]["all udp 50000:60000"] >= 100, r["counters"]


def test_media_over_ice_tcp_7881_when_udp_is_blocked(rig_factory: Any) -> None:
    rig = rig_factory()
    rig.client_only(["-p", "tcp"])
    r = rig.media()
    assert _frames_ok(r), r
    pairs = _pairs(r)
    assert pairs and all(p["local"]["protocol"] == "tcp" and p["remote"]["port"] == 7881 for p in pairs), pairs
    assert r["counters"][ICE_TCP] >= 2 and r["counters"]["all tcp 7881"] >= 100, r["counters"]
    assert r["counters"]["all udp 50000:60000"] == 0, r["counters"]


def test_negative_control_without_the_7881_rule_tcp_only_clients_get_no_media(rig_factory: Any) -> None:
    rig = rig_factory(drop="--dport 7881")
    assert ICE_TCP not in rig.topo.run("server", ["iptables", "-S", "INPUT"]).stdout
    rig.client_only(["-p", "tcp"])
    r = rig.media(seconds=15)
    assert not _frames_ok(r), f"media flowed without the 7881 rule: the rig cannot see a missing port: {r}"


def _accepts_relay_range(topo: Topology) -> list[str]:
    """INPUT ACCEPT rules of the server whose UDP ports reach into the TURN relay range."""
    out = []
    for line in topo.run("server", ["iptables", "-S", "INPUT"]).stdout.splitlines():
        m = re.search(r"-p udp .*--dport (\d+)(?::(\d+))? .*-j ACCEPT", line)
        if m and int(m[1]) <= 40000 and 30000 <= int(m[2] or m[1]):
            out.append(line)
    return out


def test_forced_relay_flows_through_livekit_turn_with_no_relay_rule(rig_factory: Any) -> None:
    """The generated firewall opens 3478/udp and no relay range (generator/derive/ports.py): relayed
    media still flows, so the range needs no inbound rule. Every packet reaching a relay port
    is counted, yet no ACCEPT rule covers those ports: they come in as replies (ESTABLISHED)
    to the relay's own packets, through the NAT hairpin as through OCI's 1:1 NAT."""
    rig = rig_factory()
    assert _accepts_relay_range(rig.topo) == []
    r = rig.media(relay=True)
    assert _frames_ok(r), r
    pairs = _pairs(r)
    assert pairs and all(p["local"]["candidate_type"] == "RELAY" and p["local"]["relay_protocol"] == "TRANSPORT_UDP" for p in pairs), pairs
    # Relay sockets are in livekit.yaml's turn.relay_range_start/end (30000-40000).
    assert all(p["local"]["url"] == f"turn:{PUBLIC_IP}:3478?transport=udp" and 30000 <= p["local"]["port"] <= 40000 for p in pairs), pairs
    assert r["counters"][TURN_UDP] >= 2 and r["counters"]["all udp 3478"] >= 100, r["counters"]
    # LiveKit's media reached the relay ports, through no rule of their own. ("new udp" counts
    # LiveKit's checks that raced ahead of the relay's first send, turned away and retried.)
    assert r["counters"]["all udp 30000:40000"] >= 100, r["counters"]
    print(f"relay-range packets not replies (turned away): {r['counters']['new udp 30000:40000']}")


def test_negative_control_without_the_turn_udp_rule_relayed_clients_get_no_media(rig_factory: Any) -> None:
    """The rig can see a missing TURN port: without 3478/udp the forced-relay test fails."""
    rig = rig_factory(drop="--dport 3478")
    assert TURN_UDP not in rig.topo.run("server", ["iptables", "-S", "INPUT"]).stdout
    r = rig.media(relay=True, seconds=15)
    assert not _frames_ok(r), f"relayed media flowed without the 3478 rule: the rig cannot see a missing port: {r}"
    # It failed for the port: the client's TURN packets arrived and were turned away, none
    # was let in, and no relay socket ever carried traffic.
    assert r["counters"]["all udp 3478"] >= 1 and r["counters"]["all udp 30000:40000"] == 0, r["counters"]


def test_via_caddy_turn_tls_on_443_only(rig_factory: Any, caddy_l4_bin: Path) -> None:
    """turn.via_caddy: with only 443/tcp reachable, a client joins over wss:// and gets a TURN
    allocation over TLS, both routed by Caddy's layer4 (SNI) on 443 -- TURN/TLS to LiveKit's
    TURN listener (5349, external_tls, local only).

    The TURN/TLS client is aioice (tests/rig/turn_probe.py), with the credentials LiveKit's
    JoinResponse hands out: the ``livekit`` wheel's libwebrtc checks TURN/TLS certificates
    against its built-in roots only and refuses Caddy's internal CA (checked below), and no
    publicly trusted certificate can be had offline.
    """
    rig = rig_factory(via_caddy=True, caddy=caddy_l4_bin)
    rig.client_only(["-p", "tcp", "--dport", "443"])
    probe = rig.stack.turn_probe(rig.topo)
    print(f"turn probe: {probe}")
    assert probe["error"] is None, probe
    assert probe["turns_url"] == f"turns:{TURN_HOST}:443?transport=tcp"
    host, port = probe["allocation"]["relayed"]
    assert host == PUBLIC_IP and 30000 <= port <= 40000, probe
    counters = input_counters(rig.topo)
    assert counters[HTTPS] >= 2 and counters["all udp 3478"] == 0 and counters["all tcp 7881"] == 0, counters
    # The SDK's own attempt: signalling joins through layer4, TURN/TLS stops at the CA check.
    r = rig.media(seconds=12)
    assert not _frames_ok(r)
    assert "unknown certificate authority" in (rig.stack.work / "caddy.log").read_text()


def test_livekit_refuses_the_seeds_turn_tcp_port(tmp_path: Path, livekit_bin: Path) -> None:
    """The seed guide's `turn.tcp_port`: `validate` flags it, and the real server will not start."""
    pv = preview(_config(tmp_path), tmp_path / "preview")
    good = yaml.safe_load((pv / "files/opt/flowstack/livekit.yaml").read_text())
    bad = {**good, "turn": {**good["turn"], "tcp_port": 3478}}
    assert unknown_keys(good) == [] and unknown_keys(bad) == ["turn.tcp_port"]
    results = {}
    for name, doc in (("generated", good), ("seed", bad)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        with Topology() as topo:  # its own namespace: nothing else is listening on its ports
            log = tmp_path / f"{name}.log"
            proc = topo.start("server", [str(livekit_bin), "--config", str(path)], log)
            try:
                proc.wait(8)
                results[name] = ("exited", proc.returncode, log.read_text())
            except subprocess.TimeoutExpired:
                results[name] = ("running", None, log.read_text())
    assert results["generated"][0] == "running", results["generated"]
    state, _, out = results["seed"]
    # LiveKit prints the error and exits (with status 0: cmd/server main prints Run's error).
    assert state == "exited" and "field tcp_port not found in type config.TURNConfig" in out, results["seed"]
