"""The livekit.yaml a stack's server runs with, as data.

`ports.livekit_needs` reads this same mapping back, so the firewall is derived from
what LiveKit will actually read, and `validate` can re-derive it from a built stack.
"""

from __future__ import annotations

from typing import Any

from .config import StackConfig

# Where Caddy keeps certificates it obtained, per issuer (Caddy's file storage layout),
# so LiveKit can serve TURN/TLS with the certificate Caddy got for turn_host.
_CADDY_CERT_DIRS = {
    "acme": "/caddy-data/caddy/certificates/acme-v02.api.letsencrypt.org-directory",
    "internal": "/caddy-data/caddy/certificates/local",
}

# Every key LiveKit's config reads that flowstack writes (livekit/livekit pkg/config
# struct tags); `validate` refuses keys outside this set, such as turn.tcp_port.
KNOWN_KEYS: dict[str, Any] = {
    "port": None,
    "bind_addresses": None,
    "log_level": None,
    "keys": None,
    "key_file": None,
    "rtc": {
        "tcp_port", "udp_port", "port_range_start", "port_range_end", "use_external_ip", "node_ip",
        "stun_servers", "turn_servers", "use_ice_lite", "interfaces", "ips", "enable_loopback_candidate",
        "allow_tcp_fallback", "congestion_control", "packet_buffer_size", "pli_throttle",
    },
    "turn": {
        "enabled", "domain", "cert_file", "key_file", "tls_port", "udp_port", "relay_range_start",
        "relay_range_end", "external_tls",
    },
    "logging": {"level", "json", "sample", "pion_level", "component_levels"},
    "redis": None,
    "room": None,
    "prometheus": {"port", "username", "password"},
    "prometheus_port": None,
    "webhook": None,
    "limit": None,
    "region": None,
    "node_selector": None,
    "signal_relay": None,
    "audio": None,
    "video": None,
    "ingress": None,
    "development": None,
}


def livekit_settings(config: StackConfig, key: str, secret: str, turn_host: str | None = None) -> dict[str, Any]:
    """livekit.yaml content; ``key``, ``secret`` and ``turn_host`` are written as given
    (Terraform placeholders at render time, real values in a preview)."""
    lk = config.livekit
    rtc: dict[str, Any] = {"tcp_port": lk.rtc.tcp_port or 0}
    if lk.rtc.port_range_start is not None:
        rtc["port_range_start"] = lk.rtc.port_range_start
        rtc["port_range_end"] = lk.rtc.port_range_end
    if lk.rtc.udp_port is not None:
        rtc["udp_port"] = lk.rtc.udp_port
    # OCI VMs only see their private address; STUN finds the public one.
    rtc["use_external_ip"] = lk.rtc.use_external_ip
    out: dict[str, Any] = {"port": lk.port, "rtc": rtc, "keys": {key: secret}}
    turn: dict[str, Any] = {"enabled": lk.turn.enabled}
    if lk.turn.enabled:
        if lk.turn.tls_port:
            host = turn_host or config.domains.turn_host
            turn["domain"] = host
            turn["tls_port"] = lk.turn.tls_port
            if lk.turn.via_caddy:
                turn["external_tls"] = True  # Caddy terminates TLS on 443 and forwards by SNI
            elif config.tls.mode == "cloudflare_origin":
                turn["cert_file"] = "/certs/origin.pem"
                turn["key_file"] = "/certs/origin-key.pem"
            else:
                base = f"{_CADDY_CERT_DIRS[config.tls.mode]}/{host}"
                turn["cert_file"] = f"{base}/{host}.crt"
                turn["key_file"] = f"{base}/{host}.key"
        if lk.turn.udp_port:
            turn["udp_port"] = lk.turn.udp_port
        turn["relay_range_start"] = lk.turn.relay_range_start
        turn["relay_range_end"] = lk.turn.relay_range_end
    out["turn"] = turn
    out["logging"] = {"level": lk.log_level, "json": True}
    return out


def unknown_keys(settings: dict[str, Any]) -> list[str]:
    """Dotted keys in ``settings`` that LiveKit does not read (they would be silently ignored)."""
    bad = []
    for k, v in settings.items():
        if k not in KNOWN_KEYS:
            bad.append(k)
        elif isinstance(KNOWN_KEYS[k], set) and isinstance(v, dict):
            bad += [f"{k}.{sub}" for sub in v if sub not in KNOWN_KEYS[k]]
    return bad
