"""The server's bring-up: the cloud-config the instance receives, as data.

The cloud-config is a Terraform ``templatefile``: deploy-time values (host names, the
generated LiveKit secret, ...) are ``${name}`` placeholders that Terraform fills in.
Everything else is built here as Python data and serialized (YAML for cloud-config,
compose and livekit.yaml; JSON for Caddy's layer4 config); the Caddyfile, systemd unit
and shell scripts come from one template each.

User text never becomes a placeholder by accident: the whole document is escaped for
Terraform's template language (``${`` -> ``$${``) and only then are flowstack's own
placeholder marks turned into ``${name}``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from .config_schema import StackConfig
from .contract import (
    APP_DIR,
    BOOT_LOG,
    COMPOSE_FILE,
    FIREWALL_SCRIPT,
    LIVEKIT_CONFIG,
    PLACEHOLDER_MARK,
    PLACEHOLDER_RE,
    READY_MARKER,
    placeholder,
    secret_env_variable,
)
from .errors import RenderError
from .hcl import template_escape
from .livekit import livekit_settings
from .model import template_variables
from .ports import ANYWHERE, PortRule, host_rules, policy
from .samples import SAMPLE_KEY, SAMPLE_LIVEKIT_SECRET, SAMPLE_PEM, sample_variable
from .templating import render_template
from .yamlio import dump_yaml

CADDY_IMAGE = "caddy:2.8.4"
# LiveKit publishes its Caddy-with-layer4 build only under this name (livekit/deploy uses it).
CADDY_L4_IMAGE = "livekit/caddyl4:latest"


ph = placeholder  # short: it appears in nearly every line below


@dataclass(frozen=True)
class WriteFile:
    path: str
    content: str
    permissions: str = "0644"
    b64: bool = False

    def as_cloud_config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "owner": "root:root", "permissions": self.permissions}
        if self.b64:
            entry["encoding"] = "b64"
        entry["content"] = self.content
        return entry


# ---------------------------------------------------------------------------
# Files on the server


def host_firewall_rules(rules: list[PortRule]) -> list[str]:
    """iptables rule specs (after ``-A INPUT``) in the exact form OCI's rules.v4 uses."""
    out = []
    for r in host_rules(rules):
        dport = str(r.low) if r.low == r.high else f"{r.low}:{r.high}"
        src = "" if r.source in (ANYWHERE, "var.ssh_source_cidr") else f"-s {r.source} "
        if r.protocol == "tcp":
            out.append(f"{src}-p tcp -m state --state NEW -m tcp --dport {dport} -j ACCEPT")
        else:
            out.append(f"{src}-p udp -m udp --dport {dport} -j ACCEPT")
    return out


def _compose(config: StackConfig) -> dict[str, Any]:
    turn_tls_direct = config.livekit.turn.enabled and config.livekit.turn.tls_port and not config.livekit.turn.via_caddy
    lk_volumes = [f"{LIVEKIT_CONFIG}:/etc/livekit.yaml:ro"]
    if turn_tls_direct:
        # LiveKit serves TURN/TLS with the certificate Caddy obtained for turn_host.
        lk_volumes.append(
            f"{APP_DIR}/certs:/certs:ro" if config.tls.mode == "cloudflare_origin" else f"{APP_DIR}/caddy-data:/caddy-data:ro"
        )
    env = {"PORT": str(config.socket.port), **config.socket.env}
    socket: dict[str, Any] = {}
    if config.socket.image:
        socket["image"] = ph("socket_image")
    else:
        assert config.socket.git is not None
        socket["image"] = f"flowstack-{config.name}-socket:local"
        sub = config.socket.git.path.strip("/")
        socket["build"] = {"context": f"{APP_DIR}/app" if sub in ("", ".") else f"{APP_DIR}/app/{sub}"}
    probe = (
        f"require('http').get('http://127.0.0.1:{config.socket.port:d}{config.socket.health_path}', "
        "r => process.exit(r.statusCode === 200 ? 0 : 1))"
        ".on('error', () => process.exit(1))"
    )
    socket.update(
        {
            "restart": "unless-stopped",
            "network_mode": "host",
            # "$" is compose's interpolation sign: double it so values arrive as written.
            "environment": {k: v.replace("$", "$$") for k, v in env.items()},
            "healthcheck": {"test": ["CMD", "node", "-e", probe], "interval": "30s", "timeout": "10s", "retries": 3},
        }
    )
    if config.socket.secret_env:
        socket["env_file"] = [f"{APP_DIR}/socket-secrets.env"]
    caddy_volumes = [f"{APP_DIR}/caddy-data:/data", f"{APP_DIR}/caddy-config:/config"]
    caddy: dict[str, Any]
    if config.livekit.turn.via_caddy:
        caddy = {"image": CADDY_L4_IMAGE, "command": "caddy run --config /etc/caddy/caddy.json"}
        caddy_volumes.insert(0, f"{APP_DIR}/caddy.json:/etc/caddy/caddy.json:ro")
    else:
        caddy = {"image": CADDY_IMAGE}
        caddy_volumes.insert(0, f"{APP_DIR}/Caddyfile:/etc/caddy/Caddyfile:ro")
    if config.tls.mode == "cloudflare_origin":
        caddy_volumes.append(f"{APP_DIR}/certs:/certs:ro")
    caddy.update({"restart": "unless-stopped", "network_mode": "host", "volumes": caddy_volumes})
    return {
        "name": "flowstack",
        "services": {
            "livekit": {
                "image": config.livekit.image,
                "command": "--config /etc/livekit.yaml",
                "restart": "unless-stopped",
                # Host networking: LiveKit needs its UDP ranges on the host, and Docker's NAT is skipped.
                "network_mode": "host",
                "volumes": lk_volumes,
            },
            "socket": socket,
            "caddy": caddy,
        },
    }


def _tls_line(config: StackConfig) -> str | None:
    return {"acme": None, "internal": "tls internal", "cloudflare_origin": "tls /certs/origin.pem /certs/origin-key.pem"}[config.tls.mode]


def render_caddyfile(
    config: StackConfig,
    *,
    hosts: dict[str, str] | None = None,
    http_port: int | None = None,
    https_port: int | None = None,
) -> str:
    """The Caddyfile; ``hosts`` replaces the placeholders (tests run it on loopback ports)."""
    h = hosts or {"socket_host": ph("socket_host"), "livekit_host": ph("livekit_host"), "turn_host": ph("turn_host")}
    turn_cert_site = bool(
        config.livekit.turn.enabled and config.livekit.turn.tls_port and not config.livekit.turn.via_caddy and config.tls.mode != "cloudflare_origin"
    )
    return render_template(
        "Caddyfile.j2",
        c=config,
        socket_host=h["socket_host"],
        livekit_host=h["livekit_host"],
        turn_host=h.get("turn_host"),
        turn_cert_site=turn_cert_site,
        tls_line=_tls_line(config),
        http_port=http_port,
        https_port=https_port,
    )


def _caddy_l4(config: StackConfig) -> dict[str, Any]:
    """Caddy layer4 config (as LiveKit's generator writes it): route 443 by SNI."""
    sh, lh, th = ph("socket_host"), ph("livekit_host"), ph("turn_host")
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


def turn_reads_caddy_certificate(config: StackConfig) -> bool:
    """LiveKit serves TURN/TLS itself with the certificate Caddy obtains (and renews)."""
    turn = config.livekit.turn
    return bool(turn.enabled and turn.tls_port and not turn.via_caddy and config.tls.mode != "cloudflare_origin")


def server_files(config: StackConfig) -> list[WriteFile]:
    """Every file cloud-init writes, with placeholders where deploy-time values go."""
    rules = policy(config)
    lk = livekit_settings(
        config, key=ph("livekit_api_key"), secret=ph("livekit_api_secret"), turn_host=ph("turn_host") if config.domains.turn_host else None
    )
    files = [
        WriteFile(COMPOSE_FILE, dump_yaml(_compose(config))),
        # Holds the LiveKit API secret: root only.
        WriteFile(LIVEKIT_CONFIG, dump_yaml(lk), permissions="0600"),
    ]
    if config.livekit.turn.via_caddy:
        files.append(WriteFile(f"{APP_DIR}/caddy.json", json.dumps(_caddy_l4(config), indent=2) + "\n"))
    else:
        files.append(WriteFile(f"{APP_DIR}/Caddyfile", render_caddyfile(config)))
    if config.socket.secret_env:
        files.append(WriteFile(f"{APP_DIR}/socket-secrets.env", ph("socket_secret_env_b64"), permissions="0600", b64=True))
    if config.tls.mode == "cloudflare_origin":
        files.append(WriteFile(f"{APP_DIR}/certs/origin.pem", ph("tls_origin_certificate_b64"), permissions="0644", b64=True))
        files.append(WriteFile(f"{APP_DIR}/certs/origin-key.pem", ph("tls_origin_private_key_b64"), permissions="0600", b64=True))
    if turn_reads_caddy_certificate(config):
        files += [
            WriteFile("/etc/systemd/system/flowstack-livekit-reload.service", render_template("livekit-reload.service.j2", app_dir=APP_DIR)),
            WriteFile("/etc/systemd/system/flowstack-livekit-reload.timer", render_template("livekit-reload.timer.j2")),
        ]
    files += [
        WriteFile("/etc/systemd/system/flowstack.service", render_template("flowstack.service.j2", app_dir=APP_DIR)),
        WriteFile(
            FIREWALL_SCRIPT,
            render_template("firewall.sh.j2", entries=list(zip(host_rules(rules), host_firewall_rules(rules), strict=True))),
            permissions="0755",
        ),
        WriteFile(
            "/usr/local/sbin/flowstack-bootstrap",
            render_template(
                "bootstrap.sh.j2",
                c=config,
                app_dir=APP_DIR,
                ready=READY_MARKER,
                log=BOOT_LOG,
                git_url=ph("socket_git_url"),
                git_ref=ph("socket_git_ref"),
                socket_host=ph("socket_host"),
                livekit_host=ph("livekit_host"),
                reload_timer=turn_reads_caddy_certificate(config),
            ),
            permissions="0755",
        ),
    ]
    return files


def cloud_config(config: StackConfig) -> dict[str, Any]:
    return {
        # The bootstrap script installs packages itself, after the firewall step, so the
        # order is explicit and every step lands in one log.
        "package_update": False,
        "write_files": [f.as_cloud_config() for f in server_files(config)],
        "runcmd": [["/usr/local/sbin/flowstack-bootstrap"]],
        "final_message": "flowstack: cloud-init finished after $UPTIME seconds",
    }


def render_cloud_init(config: StackConfig) -> str:
    """cloud-init.yaml as Terraform will read it with templatefile()."""
    text = "#cloud-config\n" + dump_yaml(cloud_config(config))
    # First make every "${" / "%{" literal for Terraform, then turn our marks into placeholders.
    text = template_escape(text)
    text = PLACEHOLDER_RE.sub(lambda m: "${" + m.group(1) + "}", text)
    if PLACEHOLDER_MARK in text:
        raise RenderError("a placeholder mark was split by the YAML serializer")
    return text


# ---------------------------------------------------------------------------
# What the server receives: templatefile() applied, for `preview` and tests

_TEMPLATE_RE = re.compile(r"\$\$\{|%%\{|\$\{([^}]*)\}|%\{")


def apply_template(text: str, values: dict[str, str]) -> str:
    """Terraform's templatefile() for the subset flowstack writes: ``${name}`` and escapes."""

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "$${":
            return "${"
        if token == "%%{":
            return "%{"
        if token == "%{":
            raise RenderError("template directives (%{...}) are not used by flowstack templates")
        name = m.group(1).strip()
        if name not in values:
            raise RenderError(f"vars map does not contain key {name!r}, referenced in the template")
        return values[name]

    return _TEMPLATE_RE.sub(sub, text)


def sample_values(config: StackConfig) -> dict[str, str]:
    """Plausible deploy-time values for `preview --sample` (never real secrets)."""
    pem, key = SAMPLE_PEM, SAMPLE_KEY
    secrets_env = "".join(f"{name}='{sample_variable(secret_env_variable(name))}'\n" for name in config.socket.secret_env)
    values = {
        "livekit_api_key": config.livekit.api_key,
        "livekit_api_secret": SAMPLE_LIVEKIT_SECRET,
        "socket_host": config.domains.socket_host,
        "livekit_host": config.domains.livekit_host,
        "turn_host": config.domains.turn_host or "",
        "socket_image": config.socket.image or "",
        "socket_git_url": config.socket.git.url if config.socket.git else "",
        "socket_git_ref": config.socket.git.ref if config.socket.git else "",
        "tls_origin_certificate_b64": base64.b64encode(pem.encode()).decode(),
        "tls_origin_private_key_b64": base64.b64encode(key.encode()).decode(),
        "socket_secret_env_b64": base64.b64encode(secrets_env.encode()).decode(),
    }
    return {k: values[k] for k in template_variables(config)}
