"""Caddy's layer4 config (TURN/TLS through Caddy on 443) and how server files name each host.

Split from ``server`` so each stays one job: this module knows Caddy's JSON config; the
placeholders it writes are filled in by Terraform (custom domains) or by the boot step
(sslip.io names), exactly as in every other server file.

Example:
    >>> from generator.config.schema import StackConfig
    >>> c = StackConfig.model_validate({"name": "demo", "region": "ap-chuncheon-1"})
    >>> sorted(host_refs(c, lambda k: "<" + k + ">"))
    ['livekit_host', 'socket_host', 'turn_host']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import boot_mark, placeholder


def host_refs(config: StackConfig, auto_ref: Callable[[str], str]) -> dict[str, str]:
    """How a file names each host: a Terraform placeholder, or (auto domains) ``auto_ref(key)``,
    which the boot step or Caddy fills in on the server."""
    ref = auto_ref if config.domains.auto else placeholder
    return {key: ref(key) for key in ("socket_host", "livekit_host", "turn_host")}


def caddy_l4_config(config: StackConfig) -> dict[str, Any]:
    """Caddy layer4 config (as LiveKit's generator writes it): route 443 by SNI."""
    refs = host_refs(config, boot_mark)
    sh, lh, th = refs["socket_host"], refs["livekit_host"], refs["turn_host"]
    tls_handler: dict[str, Any] = {"handler": "tls", "connection_policies": [{"alpn": ["http/1.1"]}]}

    def route(host: str, port: int, alpn: bool = True) -> dict[str, Any]:
        return {
            "match": [{"tls": {"sni": [host]}}],
            "handle": [tls_handler if alpn else {"handler": "tls"}, {"handler": "proxy", "upstreams": [{"dial": [f"127.0.0.1:{port}"]}]}],
        }

    tls_app: dict[str, Any] = {"certificates": {"automate": [sh, lh, th]}}
    if config.tls.mode == "cloudflare_origin":
        # The origin certificate (given at deploy time) serves every name; nothing is obtained.
        tls_app = {"certificates": {"load_files": [{"certificate": "/certs/origin.pem", "key": "/certs/origin-key.pem"}]}}
    elif config.tls.mode == "internal":
        tls_app["automation"] = {"policies": [{"issuers": [{"module": "internal"}]}]}
    elif config.tls.email:
        tls_app["automation"] = {"policies": [{"issuers": [{"module": "acme", "email": config.tls.email}]}]}
    return {
        "logging": {"logs": {"default": {"level": "INFO"}}},
        "storage": {"module": "file_system", "root": "/data"},
        "apps": {
            "tls": tls_app,
            "layer4": {
                "servers": {
                    "main": {
                        "listen": [":443"],
                        "routes": [
                            route(th, config.livekit.turn.tls_port or 5349, alpn=False),
                            route(lh, config.livekit.port),
                            route(sh, config.socket.port),
                        ],
                    }
                }
            },
        },
    }
