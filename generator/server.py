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

from .agent import agent_files
from .bootnames import BOOTSTRAP_LINE, HOSTNAMES_ENV, boot_files, caddy_env_placeholder
from .caddyconf import caddy_l4_config, host_refs
from .config_schema import StackConfig
from .contract import (
    AGENT_SCRIPT,
    AGENT_TIMER,
    APP_DIR,
    BOOT_LOG,
    BOOTSTRAP_SCRIPT,
    BOOTSTRAP_UNIT,
    BUNDLE_METADATA_KEY,
    COMPOSE_FILE,
    DNS_WAIT_SECONDS,
    DOCKER_DAEMON_JSON,
    FIREWALL_SCRIPT,
    GIT_CREDENTIALS_FILE,
    LIVEKIT_CONFIG,
    PLACEHOLDER_MARK,
    PLACEHOLDER_RE,
    READY_MARKER,
    REGISTRY_AUTH_FILE,
    SOCKET_SOURCE_FILE,
    STUN_SERVERS,
    WAIT_DNS_SCRIPT,
    boot_mark,
    placeholder,
    secret_env_variable,
)
from .errors import RenderError
from .hcl import template_escape
from .livekit import livekit_settings
from .model import template_variables
from .ports import ANYWHERE, PortRule, host_rules, policy
from .regions import region_timezone
from .sampleapp import SAMPLE_APP_DIR, sample_app_files
from .samples import SAMPLE_KEY, SAMPLE_LIVEKIT_SECRET, SAMPLE_PEM, SAMPLE_VARIABLES, sample_variable
from .templating import render_template
from .versions import caddy_l4_image
from .yamlio import dump_yaml

CADDY_IMAGE = "caddy:2.8.4"
# LiveKit's Caddy-with-layer4 build (livekit/deploy uses it); the tag is in data/versions.yaml.
CADDY_L4_IMAGE = caddy_l4_image()


ph = placeholder  # short: it appears in nearly every line below


@dataclass(frozen=True)
class WriteFile:
    path: str
    content: str
    permissions: str = "0644"
    b64: bool = False
    gz: bool = False  # content is gzip + base64
    # What a change of the file means on the server (contract.BUNDLE_SERVICES): such a file
    # travels in the config bundle (generator/bundle.py). None: boot-only, in user_data.
    service: str | None = None

    def as_cloud_config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "owner": "root:root", "permissions": self.permissions}
        if self.b64 or self.gz:
            entry["encoding"] = "gz+b64" if self.gz else "b64"
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


def _socket_service(config: StackConfig) -> dict[str, Any]:
    """The Socket.IO app's compose service: the user's image, their repository, or the sample app."""
    env = {"PORT": str(config.socket.port), **config.socket.env}
    socket: dict[str, Any] = {}
    if config.socket.image:
        socket["image"] = ph("socket_image")
    elif config.socket.sample:
        # Built from the files cloud-init wrote. It listens on the container's interfaces (its
        # default HOST 0.0.0.0): the bridge network publishes the port on the host's 127.0.0.1 only.
        socket["image"] = f"flowstack-{config.name}-sample:local"
        socket["build"] = {"context": SAMPLE_APP_DIR}
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
            # A bridge network, not the host's: the app (and every npm dependency) cannot reach
            # the instance metadata service (the firewall drops Docker networks -> 169.254.169.254)
            # and listens only behind Caddy, on the loopback port published here.
            "ports": [f"127.0.0.1:{config.socket.port:d}:{config.socket.port:d}"],
            # "$" is compose's interpolation sign: double it so values arrive as written.
            "environment": {k: v.replace("$", "$$") for k, v in env.items()},
            "healthcheck": {"test": ["CMD", "node", "-e", probe], "interval": "30s", "timeout": "10s", "retries": 3},
        }
    )
    if config.socket.secret_env:
        socket["env_file"] = [f"{APP_DIR}/socket-secrets.env"]
    return socket


def _compose(config: StackConfig) -> dict[str, Any]:
    # LiveKit gets only its own config: TURN/TLS is terminated by Caddy (external_tls), so no
    # certificate or key of any host is mounted into it.
    lk_volumes = [f"{LIVEKIT_CONFIG}:/etc/livekit.yaml:ro"]
    socket = _socket_service(config)
    caddy_volumes = [f"{APP_DIR}/caddy-data:/data", f"{APP_DIR}/caddy-config:/config"]
    caddy: dict[str, Any]
    if config.livekit.turn.via_caddy:
        # The image's ENTRYPOINT is /bin/caddy: the command is caddy's arguments, as livekit/deploy writes it.
        caddy = {"image": CADDY_L4_IMAGE, "command": "run --config /etc/caddy/caddy.json"}
        caddy_volumes.insert(0, f"{APP_DIR}/caddy.json:/etc/caddy/caddy.json:ro")
    else:
        caddy = {"image": CADDY_IMAGE}
        caddy_volumes.insert(0, f"{APP_DIR}/Caddyfile:/etc/caddy/Caddyfile:ro")
    if config.tls.mode == "cloudflare_origin":
        caddy_volumes.append(f"{APP_DIR}/certs:/certs:ro")
    caddy.update({"restart": "unless-stopped", "network_mode": "host", "volumes": caddy_volumes})
    if config.domains.auto:
        caddy["env_file"] = [HOSTNAMES_ENV]  # the names the boot step found: {$SOCKET_HOST} in the Caddyfile
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
    h = hosts or host_refs(config, caddy_env_placeholder)
    return render_template(
        "Caddyfile.j2",
        c=config,
        socket_host=h["socket_host"],
        livekit_host=h["livekit_host"],
        tls_line=_tls_line(config),
        http_port=http_port,
        https_port=https_port,
    )


def docker_daemon_settings() -> dict[str, Any]:
    """/etc/docker/daemon.json: bounded container logs, and containers kept running while dockerd restarts.

    Example: ``docker_daemon_settings()["log-driver"]`` -> ``"local"``.
    """
    # The `local` driver rotates and compresses by itself (defaults 20 MB x 5); the limits are
    # written out so they are visible. live-restore: an apt upgrade of docker.io does not stop calls.
    return {"log-driver": "local", "log-opts": {"max-size": "20m", "max-file": "5"}, "live-restore": True}


def server_timezone(config: StackConfig) -> str:
    """The server clock's zone: ``instance.timezone``, else the region's (data/regions.yaml), else UTC.

    Example: ``server_timezone(config)`` -> ``"Asia/Seoul"`` for ap-chuncheon-1.
    """
    return config.instance.timezone or region_timezone(config.region) or "UTC"


def _dns_wait_hosts(config: StackConfig) -> list[str]:
    """Hosts Caddy gets ACME certificates for (none with an origin certificate or its own CA;
    none to wait for with sslip.io names: the boot step already checked they resolve here)."""
    if config.tls.mode != "acme" or config.domains.auto:
        return []
    hosts = [ph("socket_host"), ph("livekit_host")]
    return hosts + [ph("turn_host")] if config.livekit.turn.enabled and config.livekit.turn.tls_port else hosts


def _bring_up_files(config: StackConfig) -> list[WriteFile]:
    files = [
        WriteFile(f"/etc/systemd/system/{BOOTSTRAP_UNIT}", render_template("flowstack-bootstrap.service.j2", ready=READY_MARKER, script=BOOTSTRAP_SCRIPT)),
        WriteFile(
            BOOTSTRAP_SCRIPT,
            render_template(
                "bootstrap.sh.j2", c=config, app_dir=APP_DIR, ready=READY_MARKER, log=BOOT_LOG, firewall=FIREWALL_SCRIPT,
                agent=AGENT_SCRIPT, bundle_key=BUNDLE_METADATA_KEY, source_file=SOCKET_SOURCE_FILE,
                socket_host="$SOCKET_HOST" if config.domains.auto else ph("socket_host"),
                livekit_host="$LIVEKIT_HOST" if config.domains.auto else ph("livekit_host"),
                hostnames_line=BOOTSTRAP_LINE if config.domains.auto else None, sample_dir=SAMPLE_APP_DIR,
                wait_hosts=_dns_wait_hosts(config),
            ),
            permissions="0755",
        ),
    ]
    if _dns_wait_hosts(config):
        files.append(WriteFile(WAIT_DNS_SCRIPT, render_template("wait-dns.py.j2", stun_servers=STUN_SERVERS, wait_seconds=DNS_WAIT_SECONDS), permissions="0755"))
    return files


def server_files(config: StackConfig) -> list[WriteFile]:
    """Every file cloud-init writes, with placeholders where deploy-time values go."""
    rules = policy(config)
    turn_ref = host_refs(config, boot_mark)["turn_host"] if config.domains.turn_host or config.domains.auto else None
    lk = livekit_settings(config, key=ph("livekit_api_key"), secret=ph("livekit_api_secret"), turn_host=turn_ref)
    # Everything from the config that can change later carries a `service` (it goes into the
    # bundle, applied in place by the agent); the rest is boot-only (user_data).
    files = [
        WriteFile(COMPOSE_FILE, dump_yaml(_compose(config)), service="compose"),
        # Holds the LiveKit API secret: root only.
        WriteFile(LIVEKIT_CONFIG, dump_yaml(lk), permissions="0600", service="livekit"),
    ]
    if config.livekit.turn.via_caddy:
        files.append(WriteFile(f"{APP_DIR}/caddy.json", json.dumps(caddy_l4_config(config), indent=2) + "\n", service="caddy"))
    else:
        files.append(WriteFile(f"{APP_DIR}/Caddyfile", render_caddyfile(config), service="caddy"))
    if config.socket.secret_env:
        files.append(WriteFile(f"{APP_DIR}/socket-secrets.env", ph("socket_secret_env_b64"), permissions="0600", b64=True, service="socket"))
    if config.socket.image:
        files.append(WriteFile(REGISTRY_AUTH_FILE, ph("socket_registry_auth_b64"), permissions="0600", b64=True, service="socket"))
    if config.socket.sample:
        files += [WriteFile(f"{SAMPLE_APP_DIR}/{name}", data.decode("utf-8"), service="socket-build") for name, data in sample_app_files().items()]
    elif config.socket.git:
        source = {"url": ph("socket_git_url"), "ref": ph("socket_git_ref")}
        files.append(WriteFile(SOCKET_SOURCE_FILE, json.dumps(source, indent=2) + "\n", service="socket-build"))
        files.append(WriteFile(GIT_CREDENTIALS_FILE, ph("socket_git_credentials_b64"), permissions="0600", b64=True, service="socket-build"))
    if config.domains.auto:
        files += [WriteFile(path, content, permissions=mode) for path, content, mode in _boot_names(config)]
    if config.tls.mode == "cloudflare_origin":
        files.append(WriteFile(f"{APP_DIR}/certs/origin.pem", ph("tls_origin_certificate_b64"), permissions="0644", b64=True, service="caddy"))
        files.append(WriteFile(f"{APP_DIR}/certs/origin-key.pem", ph("tls_origin_private_key_b64"), permissions="0600", b64=True, service="caddy"))
    files += [
        # Read by Docker at its first start (the bootstrap installs it after cloud-init wrote this).
        WriteFile(DOCKER_DAEMON_JSON, json.dumps(docker_daemon_settings(), indent=2) + "\n"),
        WriteFile("/etc/systemd/system/flowstack.service", render_template("flowstack.service.j2", app_dir=APP_DIR)),
        WriteFile(
            FIREWALL_SCRIPT,
            render_template("firewall.sh.j2", entries=list(zip(host_rules(rules), host_firewall_rules(rules), strict=True))),
            permissions="0755", service="firewall",
        ),
    ]
    return files + _bring_up_files(config) + [WriteFile(p, c, permissions=m) for p, c, m in agent_files()]


def to_template(text: str) -> str:
    """Server-file text as a Terraform template: ``${`` / ``%{`` made literal, then our marks -> ``${name}``.

    Example: ``to_template("a ${b} " + placeholder("c"))`` -> ``"a $${b} ${c}"``.
    """
    text = PLACEHOLDER_RE.sub(lambda m: "${" + m.group(1) + "}", template_escape(text))
    if PLACEHOLDER_MARK in text:
        raise RenderError("a placeholder mark was split by the YAML serializer")
    return text


def bundle_files(config: StackConfig) -> list[WriteFile]:
    """The server files the config bundle carries (each with its ``service``)."""
    return [f for f in server_files(config) if f.service is not None]


def _boot_names(config: StackConfig) -> list[tuple[str, str, str]]:
    """The boot step's files: which names it derives and which files carry its marks."""
    turn_tls = bool(config.livekit.turn.enabled and config.livekit.turn.tls_port)
    keys = ("socket_host", "livekit_host") + (("turn_host",) if turn_tls else ())
    fill = ((LIVEKIT_CONFIG,) if turn_tls else ()) + ((f"{APP_DIR}/caddy.json",) if config.livekit.turn.via_caddy else ())
    return boot_files(keys, fill)


def cloud_config(config: StackConfig) -> dict[str, Any]:
    return {
        # The bootstrap script installs packages itself, after the firewall step, so the
        # order is explicit and every step lands in one log.
        "package_update": False,
        # The clock's zone: scheduled jobs and log times follow the region's local hours.
        "timezone": server_timezone(config),
        # Boot-only files: the rest arrives in the config bundle, which the agent writes.
        "write_files": [f.as_cloud_config() for f in server_files(config) if f.service is None],
        # Enable the bring-up unit before any network step, then start it without blocking
        # cloud-init: a failed try is retried by systemd (after a reboot too) until ready.
        "runcmd": [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", BOOTSTRAP_UNIT],
            # The agent's timer: config changes reach the running server (it waits for READY_MARKER).
            ["systemctl", "enable", "--now", AGENT_TIMER],
            ["systemctl", "start", "--no-block", BOOTSTRAP_UNIT],
        ],
        "final_message": "flowstack: cloud-init finished after $UPTIME seconds",
    }


def cloud_init_source(config: StackConfig) -> str:
    """cloud-init.yaml before templating: flowstack's placeholder marks still in it.

    Example: ``cloud_init_source(config).startswith("#cloud-config\\n")`` -> ``True``.
    """
    return "#cloud-config\n" + dump_yaml(cloud_config(config))


def render_cloud_init(config: StackConfig, source: str | None = None) -> str:
    """cloud-init.yaml as Terraform will read it with templatefile() (from ``source`` when given)."""
    return to_template(source if source is not None else cloud_init_source(config))


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
        "socket_host": config.domains.socket_host or "",
        "livekit_host": config.domains.livekit_host or "",
        "turn_host": config.domains.turn_host or "",
        "socket_image": config.socket.image or "",
        "socket_git_url": (config.socket.git.known_url or SAMPLE_VARIABLES["socket_git_url"]) if config.socket.git else "",
        "socket_git_ref": config.socket.git.ref if config.socket.git else "",
        "tls_origin_certificate_b64": base64.b64encode(pem.encode()).decode(),
        "tls_origin_private_key_b64": base64.b64encode(key.encode()).decode(),
        "socket_secret_env_b64": base64.b64encode(secrets_env.encode()).decode(),
        "socket_git_credentials_b64": base64.b64encode(b"username=x-access-token\npassword=\n").decode(),
        "socket_registry_auth_b64": base64.b64encode(b'{"auths":{}}').decode(),
    }
    return {k: values[k] for k in template_variables(config)}
