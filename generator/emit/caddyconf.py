"""Caddy's layer4 config (TURN/TLS through Caddy on 443) and how server files name each host.

Split from ``server`` so each stays one job: this module knows Caddy's JSON config; the
placeholders it writes are filled in by Terraform (custom domains) or by the boot step
(sslip.io names), exactly as in every other server file.

Example:
    >>> from generator.config.schema import StackConfig
    >>> c = StackConfig.model_validate({"name": "demo", "region": "ap-chuncheon-1"})
    >>> caddy_l4_config(c)["apps"]["layer4"]["servers"]["main"]["listen"]
    [':443']
"""

from __future__ import annotations

from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import boot_mark
from generator.derive.hostnames import host_refs

# Let's Encrypt first (Caddy's default CA), then ZeroSSL's ACME endpoint, which needs an account
# e-mail (Caddy fetches ZeroSSL's EAB credentials with it): data/tls.yaml has the sources.
ZEROSSL_ACME = "https://acme.zerossl.com/v2/DV90"
# The http app's TLS server behind layer4 (local only): layer4 hands it the TLS stream of the app
# and LiveKit names with a PROXY protocol header, so they see each client's own address.
L4_HTTPS_PORT = 9443
# LiveKit's TURN listener is dialled at docker0's address (pinned in daemon.json "bip"), not at
# 127.0.0.1: livekit/deploy rewrites its upstream to a non-loopback address because TURN/TLS
# needs it "to work with Firefox" (generate/templates/updateip.go): a relayed session whose TURN
# server sees the client at a loopback address is refused by Firefox.
TURN_UPSTREAM_HOST = "172.17.0.1"


def acme_issuers(config: StackConfig) -> list[dict[str, Any]]:
    """Caddy's ACME issuers in order: Let's Encrypt, then ZeroSSL (when an e-mail is set).

    Example:
        >>> from generator.config.schema import StackConfig
        >>> [i.get("ca", "LE") for i in acme_issuers(StackConfig.model_validate({"name": "demo", "region": "ap-chuncheon-1", "tls": {"email": "a@b.co"}}))]
        ['LE', 'https://acme.zerossl.com/v2/DV90']
    """
    email = {"email": config.tls.email} if config.tls.email else {}
    return [{"module": "acme", **email}] + ([{"module": "acme", "ca": ZEROSSL_ACME, **email}] if config.tls.email else [])


def _http_app(config: StackConfig, sh: str, lh: str) -> dict[str, Any]:
    """:80 redirects to HTTPS (and answers ACME HTTP-01 challenges: Caddy does that on every
    server of its http app); 127.0.0.1:L4_HTTPS_PORT terminates TLS for the app and LiveKit
    behind layer4, reading the PROXY header first, and proxies with X-Forwarded-For."""

    def site(host: str, port: int) -> dict[str, Any]:
        return {"match": [{"host": [host]}], "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": f"127.0.0.1:{port}"}]}],
                "terminal": True}

    redirect = {"handler": "static_response", "status_code": 308, "headers": {"Location": ["https://{http.request.host}{http.request.uri}"]}}
    return {
        "servers": {
            "redirect": {"listen": [":80"], "routes": [{"handle": [redirect]}], "automatic_https": {"disable": True}},
            "behind_l4": {
                "listen": [f"127.0.0.1:{L4_HTTPS_PORT}"],
                # The PROXY header (only from layer4, on loopback) gives each request the client's own
                # address, which reverse_proxy puts in X-Forwarded-For (a client-sent one is not trusted).
                "listener_wrappers": [{"wrapper": "proxy_protocol", "allow": ["127.0.0.1/32"]}, {"wrapper": "tls"}],
                "tls_connection_policies": [{"match": {"sni": [sh, lh]}}],
                "automatic_https": {"disable": True},
                "routes": [site(sh, config.socket.port), site(lh, config.livekit.port)],
            },
        }
    }


def caddy_l4_config(config: StackConfig, refs: dict[str, str] | None = None) -> dict[str, Any]:
    """Caddy's JSON config for TURN/TLS through Caddy on 443 (issue 21 item 6).

    layer4 routes 443 by SNI: the TURN name is terminated here and proxied to LiveKit's TURN
    listener (at a non-loopback address, for Firefox); the app and LiveKit names go, still
    encrypted and with a PROXY protocol header, to the http app, which terminates TLS and
    proxies as HTTP (the app sees client addresses in X-Forwarded-For). The http app also
    serves :80 (redirect, ACME HTTP-01).
    """
    refs = refs or host_refs(config, boot_mark)  # derived once in a build (`Derived.boot_refs`)
    sh, lh, th = refs["socket_host"], refs["livekit_host"], refs["turn_host"]
    tls_app: dict[str, Any] = {"certificates": {"automate": [sh, lh, th]}}
    if config.tls.mode == "cloudflare_origin":
        # The origin certificate (given at deploy time) serves every name; nothing is obtained.
        tls_app = {"certificates": {"load_files": [{"certificate": "/certs/origin.pem", "key": "/certs/origin-key.pem"}]}}
    elif config.tls.mode == "internal":
        tls_app["automation"] = {"policies": [{"issuers": [{"module": "internal"}]}]}
    else:
        tls_app["automation"] = {"policies": [{"issuers": acme_issuers(config)}]}
    turn_port = config.livekit.turn.tls_port or 5349
    return {
        "logging": {"logs": {"default": {"level": "INFO"}}},
        "storage": {"module": "file_system", "root": "/data"},
        "apps": {
            "tls": tls_app,
            "http": _http_app(config, sh, lh),
            "layer4": {
                "servers": {
                    "main": {
                        "listen": [":443"],
                        "routes": [
                            {"match": [{"tls": {"sni": [th]}}],
                             "handle": [{"handler": "tls"}, {"handler": "proxy", "upstreams": [{"dial": [f"{TURN_UPSTREAM_HOST}:{turn_port}"]}]}]},
                            {"match": [{"tls": {"sni": [sh, lh]}}],
                             "handle": [{"handler": "proxy", "proxy_protocol": "v2", "upstreams": [{"dial": [f"127.0.0.1:{L4_HTTPS_PORT}"]}]}]},
                        ],
                    }
                }
            },
        },
    }
