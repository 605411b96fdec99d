"""The port policy: which ports the stack must open, to whom, and why.

The LiveKit part is derived from a ``livekit.yaml`` mapping exactly as LiveKit reads it
(facts.md section 2), not from flowstack's own config, so `validate` can run the same
derivation on a stack someone edited by hand.  The security list and the host firewall
are both rendered from this policy, and `validate` proves all three agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.config.schema import StackConfig
from generator.derive.livekit import livekit_settings

ANYWHERE = "0.0.0.0/0"
SSH_SOURCE = "var.ssh_source_cidr"

# LiveKit's code defaults, used when livekit.yaml omits a key; unchanged in the pinned v1.13.5:
# pkg/config DefaultConfig (port 7880, rtc.tcp_port 7881), NewConfig (relay 30000-40000) and
# mediatransportutil rtcconfig Validate (50000-60000 when neither a range nor udp_port is set).
#
# The TURN relay range is a local listener, never an inbound rule (README "Ports"). In v1.13.5
# (pkg/service/turn.go NewTurnServer, pion/turn v5.0.12) the relay sockets are bound by
# RelayAddressGeneratorPortRange{RelayAddress: rtc.node_ip, MinPort/MaxPort: the relay range},
# and the permission handler refuses loopback, private, link-local, multicast and unspecified
# peers, so with LiveKit's clients the one peer is LiveKit's own node IP (its ICE candidates;
# config-sample.yaml: "UDP port range for TURN relay to connect to LiveKit SFU"). pion drops
# what a relay socket receives from an address without a permission or channel
# (allocation.go packetConnHandler) and the client's ICE checks make the relay socket send
# to LiveKit, so what reaches a relay port is LiveKit's reply on a flow the relay opened:
# host conntrack takes it as ESTABLISHED, and OCI's security list lets it in through the
# stateful egress rule ("when an instance sends traffic that matches a stateful egress rule,
# the incoming response is automatically allowed, regardless of any ingress rules",
# Network/Concepts/securityrules.htm). A check of LiveKit's that races ahead of the relay's
# first send is dropped and retransmitted, as ICE expects. The node IP is the public IP (1:1
# NAT), so the relay's packets hairpin out and back in on LiveKit's media range, which is open.
# LiveKit's own port table (docs.livekit.io/oss/deployment/ports-firewall) and its production
# generator (livekit/deploy generate/production.go) list no relay range either. The LiveKit
# rig proves it: relayed media with no relay rule at all (tests/e2e/test_livekit_rig.py).
LK_DEFAULT_PORT = 7880
LK_DEFAULT_TCP_PORT = 7881
LK_DEFAULT_RANGE = (50000, 60000)
LK_DEFAULT_RELAY = (30000, 40000)


@dataclass(frozen=True, order=True)
class PortRule:
    """One ingress rule: ``protocol`` ports ``low``..``high`` from ``source``."""

    protocol: str
    low: int
    high: int
    source: str
    who: str = ""
    why: str = ""

    @property
    def key(self) -> tuple[str, int, int, str]:
        """What two rule sets are compared on (the prose is not part of it)."""
        return (self.protocol, self.low, self.high, self.source)

    @property
    def ports(self) -> str:
        if self.protocol == "icmp":
            return f"type {self.low} code {self.high}"  # for ICMP, low/high hold type/code
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


@dataclass(frozen=True)
class Listener:
    """A port something on the host listens on, public or not (for collision checks)."""

    protocol: str
    low: int
    high: int
    owner: str  # the config field that sets it


class LiveKitSettingsError(ValueError):
    """The livekit.yaml settings are ones LiveKit itself would refuse."""


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        raise LiveKitSettingsError(f"{v!r} is not a port number") from None


def _udp_mux(v: Any) -> tuple[int, int] | None:
    """``rtc.udp_port`` is a port or an ``a-b`` range (mediatransportutil PortRange)."""
    if v in (None, "", 0):
        return None
    if isinstance(v, str) and "-" in v:
        a, b = v.split("-", 1)
        return (_int(a), _int(b))
    p = _int(v)
    return (p, p)


RELAY_OWNER = "livekit.turn.relay_range_start"
RELAY_WHY = "LiveKit's TURN relay range, which needs no inbound rule (only replies to the relay's own packets arrive there)"


def relay_range(turn: dict[str, Any]) -> tuple[int, int]:
    """The UDP ports LiveKit's TURN binds relay sockets on (its default when either end is unset).

    >>> relay_range({"relay_range_start": 31000, "relay_range_end": 31999})
    (31000, 31999)
    """
    lo, hi = _int(turn.get("relay_range_start")), _int(turn.get("relay_range_end"))
    return (lo, hi) if lo and hi else LK_DEFAULT_RELAY


def livekit_needs(lk: dict[str, Any]) -> tuple[list[PortRule], list[Listener]]:
    """Public rules and local listeners of a LiveKit server run with settings ``lk``."""
    rules: list[PortRule] = []
    local: list[Listener] = [Listener("tcp", _int(lk.get("port", LK_DEFAULT_PORT)), _int(lk.get("port", LK_DEFAULT_PORT)), "livekit.port")]
    rtc = lk.get("rtc") or {}
    tcp = _int(rtc.get("tcp_port", LK_DEFAULT_TCP_PORT))
    if tcp:
        rules.append(PortRule("tcp", tcp, tcp, ANYWHERE, "LiveKit", "ICE over TCP for clients that cannot use UDP (cannot be proxied)"))
    start, end = _int(rtc.get("port_range_start")), _int(rtc.get("port_range_end"))
    mux = _udp_mux(rtc.get("udp_port"))
    if start and end:
        # A range wins over udp_port: LiveKit ignores the mux port when both are set.
        rules.append(PortRule("udp", start, end, ANYWHERE, "LiveKit", "WebRTC media, one UDP port per peer connection"))
    elif mux:
        rules.append(PortRule("udp", mux[0], mux[1], ANYWHERE, "LiveKit", "WebRTC media over the UDP mux port"))
    else:
        rules.append(PortRule("udp", *LK_DEFAULT_RANGE, ANYWHERE, "LiveKit", "WebRTC media (LiveKit's default UDP range)"))
    turn = lk.get("turn") or {}
    if turn.get("enabled"):
        udp, tls = _int(turn.get("udp_port")), _int(turn.get("tls_port"))
        if not udp and not tls:
            raise LiveKitSettingsError("TURN is enabled but udp_port and tls_port are both 0: LiveKit refuses to start (invalid TURN ports)")
        if tls and not turn.get("domain"):
            raise LiveKitSettingsError("turn.tls_port is set without turn.domain: LiveKit needs the domain for TURN/TLS")
        if udp:
            rules.append(PortRule("udp", udp, udp, ANYWHERE, "LiveKit TURN", "TURN over UDP for clients behind restrictive NATs"))
        if tls:
            if turn.get("external_tls"):
                local.append(Listener("tcp", tls, tls, "livekit.turn.tls_port"))
            else:
                rules.append(PortRule("tcp", tls, tls, ANYWHERE, "LiveKit TURN", "TURN over TLS for clients that only reach TCP"))
        # Local only: replies on flows the relay opened (see the comment at LK_DEFAULT_RELAY).
        local.append(Listener("udp", *relay_range(turn), RELAY_OWNER))
    prom = (lk.get("prometheus") or {}).get("port") or lk.get("prometheus_port")
    if prom:
        local.append(Listener("tcp", _int(prom), _int(prom), "livekit.prometheus.port"))
    return rules, local


# OCI's default security list has this rule too: with stateless ingress rules, the "fragmentation
# needed" messages of path MTU discovery (the VCN's MTU is 9000, the internet's 1500) get in only
# when allowed explicitly, and without them large TCP replies stall.
PATH_MTU = PortRule("icmp", 3, 4, ANYWHERE, "network", "path MTU discovery (ICMP fragmentation needed)")


def base_rules() -> list[PortRule]:
    """What the stack needs besides LiveKit: path MTU discovery, Caddy's HTTP(S), SSH for the operator."""
    return [
        PATH_MTU,
        PortRule("tcp", 22, 22, SSH_SOURCE, "operator", "SSH, only from ssh_source_cidr"),
        PortRule("tcp", 80, 80, ANYWHERE, "Caddy", "ACME HTTP challenge and redirect to HTTPS"),
        PortRule("tcp", 443, 443, ANYWHERE, "Caddy", "HTTPS and WebSocket for Socket.IO and LiveKit signalling"),
    ]


def policy_from_livekit(lk: dict[str, Any], extras: list[PortRule] | None = None) -> list[PortRule]:
    """The full policy for a stack whose LiveKit runs with ``lk``, sorted and de-duplicated."""
    rules, _ = livekit_needs(lk)
    return merge_policy(rules, extras)


def merge_policy(livekit_rules: list[PortRule], extras: list[PortRule] | None = None) -> list[PortRule]:
    """The base rules, LiveKit's (`livekit_needs`) and the declared extras: sorted and de-duplicated."""
    merged: dict[tuple[str, int, int, str], PortRule] = {}
    for r in base_rules() + livekit_rules + list(extras or []):
        merged.setdefault(r.key, r)
    return sorted(merged.values(), key=lambda r: (r.low, r.protocol, r.high, r.source))


def host_rules(rules: list[PortRule]) -> list[PortRule]:
    """The rules the host firewall must add: TCP and UDP (OCI's rules.v4 already accepts all ICMP)."""
    return [r for r in rules if r.protocol in ("tcp", "udp")]


NFS_PORT = 2049  # NFSv4 needs this one port (no portmapper): Caddy's shared storage, several nodes


def extra_rules(config: StackConfig) -> list[PortRule]:
    rules = [
        PortRule(e.protocol, e.port, e.port_end or e.port, str(e.source), "extra_ports", e.reason)
        for e in config.extra_ports
    ]
    if config.scale.scaled:  # node to node, inside the stack's subnet only (generator/scale/, docs/scale-out.md)
        port, subnet = config.scale.redis.port, str(config.network.subnet_cidr)
        rules.append(PortRule("tcp", port, port, subnet, "scale", "node to node: LiveKit and the Socket.IO app on every node use Redis on node 1"))
        rules.append(PortRule("tcp", NFS_PORT, NFS_PORT, subnet, "scale", "node to node: Caddy's certificate storage, shared over NFSv4 from node 1"))
    return rules


def policy(config: StackConfig) -> list[PortRule]:
    """The policy of a config: the same derivation `validate` applies to a built stack."""
    return policy_from_livekit(livekit_settings(config, key="KEY", secret="SECRET"), extra_rules(config))


def config_ports(config: StackConfig) -> tuple[list[PortRule], list[Listener]]:
    """The policy and every listener of a config, from one derivation of LiveKit's settings:
    what loading checks (two services on one port, the rule count against OCI's limit)."""
    lk_rules, local = livekit_needs(livekit_settings(config, key="KEY", secret="SECRET"))
    return merge_policy(lk_rules, extra_rules(config)), _listeners(config, lk_rules, local)


def listeners(config: StackConfig) -> list[Listener]:
    """Every port something listens on, with the config field that sets it."""
    return config_ports(config)[1]


def _listeners(config: StackConfig, rules: list[PortRule], local: list[Listener]) -> list[Listener]:
    lk = config.livekit
    out = [
        Listener("tcp", 22, 22, "sshd (port 22)"),
        Listener("tcp", 80, 80, "Caddy (port 80)"),
        Listener("tcp", 443, 443, "Caddy (port 443)"),
        Listener("tcp", config.socket.port, config.socket.port, "socket.port"),
    ]
    # Each public LiveKit rule comes from one config field: match by the exact range, so a
    # clash names the field the user wrote (two identical ranges still get their own names).
    owners = [
        (("tcp", lk.rtc.tcp_port, lk.rtc.tcp_port), "livekit.rtc.tcp_port"),
        (("udp", lk.rtc.port_range_start, lk.rtc.port_range_end), "livekit.rtc.port_range_start"),
        (("udp", lk.rtc.udp_port, lk.rtc.udp_port), "livekit.rtc.udp_port"),
        (("udp", lk.turn.udp_port, lk.turn.udp_port), "livekit.turn.udp_port"),
        (("tcp", lk.turn.tls_port, lk.turn.tls_port), "livekit.turn.tls_port"),
        (("udp", *LK_DEFAULT_RANGE), "livekit.rtc (LiveKit's default UDP range)"),
    ]
    for r in rules:
        match = next((o for o in owners if o[0] == (r.protocol, r.low, r.high)), None)
        if match:
            owners.remove(match)
        out.append(Listener(r.protocol, r.low, r.high, match[1] if match else "livekit"))
    out += local
    for i, e in enumerate(config.extra_ports):
        out.append(Listener(e.protocol, e.port, e.port_end or e.port, f"extra_ports[{i}].port"))
    if config.scale.scaled:
        out.append(Listener("tcp", config.scale.redis.port, config.scale.redis.port, "scale.redis.port"))
        out.append(Listener("tcp", NFS_PORT, NFS_PORT, "scale (NFS of Caddy's storage, port 2049)"))
    return out


def find_collision(config: StackConfig) -> tuple[Listener, Listener] | None:
    """The first pair of listeners whose ports overlap on the same protocol, if any."""
    return collision(listeners(config))


def collision(items: list[Listener]) -> tuple[Listener, Listener] | None:
    """The first pair of ``items`` whose ports overlap on the same protocol, if any."""
    seen: list[Listener] = []
    for item in items:
        for other in seen:
            if item.protocol == other.protocol and item.low <= other.high and other.low <= item.high:
                return other, item
        seen.append(item)
    return None
