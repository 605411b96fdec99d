"""The livekit.yaml a stack's server runs with, as data.

`ports.livekit_needs` reads this same mapping back, so the firewall is derived from
what LiveKit will actually read, and `validate` can re-derive it from a built stack.
"""

from __future__ import annotations

from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import boot_mark, placeholder
from generator.scale.stack import livekit_redis

# Every key LiveKit's config reads, from the yaml tags of livekit-server v1.13.5 (the pinned
# release, data/versions.yaml) as served by the Go module proxy: pkg/config/config.go (Config,
# RTCConfig, TURNConfig, PrometheusConfig, LoggingConfig), with RTCConfig inlining
# mediatransportutil pkg/rtcconfig RTCConfig (v0.0.0-20260608063931-a3417d38cda0, as pinned by
# that release's go.mod) and LoggingConfig inlining livekit/protocol
# v1.50.5-0.20260728075222-28e604c046c6 logger.Config. A set lists a section's keys; None means
# the section is not checked below its top level. LiveKit decodes the file with yaml
# KnownFields (strict unless --disable-strict-config), so a key outside its struct, such as
# turn.tcp_port, stops the server (tests/e2e/test_livekit_rig.py runs it); `validate` refuses such keys.
KNOWN_KEYS: dict[str, Any] = {
    "port": None,
    "bind_addresses": None,
    "prometheus_port": None,  # deprecated for prometheus.port, still read
    "prometheus": {"port", "username", "password"},
    "debug_handler": None,
    "rtc": {
        # mediatransportutil rtcconfig.RTCConfig (inline)
        "udp_port", "tcp_port", "port_range_start", "port_range_end", "use_stun_port_as_ice", "node_ip",
        "stun_servers", "use_external_ip", "skip_external_ip_validation", "advertise_internal_ip",
        "use_ice_lite", "interfaces", "ips", "enable_loopback_candidate", "use_mdns", "external_ip_only",
        "batch_io", "sctp_min_cwnd", "sctp_fast_rtx_wnd", "sctp_cwnd_ca_step", "host_acceptance_min_wait",
        "srflx_acceptance_min_wait", "prflx_acceptance_min_wait", "relay_acceptance_min_wait", "force_tcp",
        # livekit RTCConfig
        "turn_servers", "strict_acks", "packet_buffer_size", "packet_buffer_size_video",
        "packet_buffer_size_audio", "pli_throttle", "congestion_control", "allow_tcp_fallback",
        "tcp_fallback_rtt_threshold", "allow_udp_unstable_fallback",
        "reconnect_on_publication_error", "reconnect_on_subscription_error",
        "reconnect_on_data_channel_error", "data_channel_max_buffered_amount",
        "datachannel_slow_threshold", "datachannel_lossy_target_latency",
        "datachannel_data_track_target_latency", "forward_stats", "enable_rtp_stream_restart_detection",
    },
    "redis": None,
    "audio": None,
    "video": None,
    "room": None,
    "turn": {
        "enabled", "domain", "cert_file", "key_file", "tls_port", "udp_port", "relay_range_start",
        "relay_range_end", "external_tls", "bind_addresses", "ttl_seconds", "allow_restricted_peer_cidrs",
        "deny_peer_cidrs",
    },
    "ingress": None,
    "sip": None,
    "webhook": None,
    "node_selector": None,
    "key_file": None,
    "keys": None,
    "region": None,
    "signal_relay": None,
    "psrpc": None,
    "log_level": None,  # deprecated for logging.level, still read
    "logging": {
        # protocol logger.Config (inline)
        "json", "level", "sample", "component_levels", "sample_initial", "sample_interval",
        "item_sample_seconds", "item_sample_initial", "item_sample_interval",
        # livekit LoggingConfig
        "pion_level",
    },
    "limit": None,
    "agents": None,
    "development": None,
    "metric": None,
    "trace": None,
    "node_stats": None,
    "enable_data_tracks": None,
    "enable_participant_data_blob": None,
    "api": None,
}


def livekit_settings(config: StackConfig, key: str, secret: str, turn_host: str | None = None, redis_host: str | None = None) -> dict[str, Any]:
    """livekit.yaml content; ``key``, ``secret`` and ``turn_host`` are written as given
    (Terraform placeholders at render time, real values in a preview); ``redis_host``: node 1's
    name (several nodes), when derived already."""
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
            # Auto domains: the name is known only at boot, which fills in the mark.
            host = turn_host or config.domains.turn_host or boot_mark("turn_host")
            turn["domain"] = host
            turn["tls_port"] = lk.turn.tls_port
            # TURN/TLS is only ever via_caddy (the config refuses anything else): Caddy terminates
            # TLS on 443 and forwards by SNI, so LiveKit holds no certificate and never waits for one.
            turn["external_tls"] = True
        if lk.turn.udp_port:
            turn["udp_port"] = lk.turn.udp_port
        turn["relay_range_start"] = lk.turn.relay_range_start
        turn["relay_range_end"] = lk.turn.relay_range_end
    out["turn"] = turn
    out["logging"] = {"level": lk.log_level, "json": True}
    if config.scale.scaled:  # LiveKit's distributed mode: rooms and node messages go through Redis on node 1
        out["redis"] = livekit_redis(config, placeholder("redis_password"), redis_host)
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
