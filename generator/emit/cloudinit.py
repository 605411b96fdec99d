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

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import (
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
    GIT_KNOWN_HOSTS_FILE,
    GIT_SSH_CONFIG_FILE,
    GIT_SSH_KEY_FILE,
    LIVEKIT_CONFIG,
    PLACEHOLDER_MARK,
    PLACEHOLDER_RE,
    PRUNE_TIMER,
    READY_MARKER,
    REGISTRY_AUTH_FILE,
    SOCKET_SOURCE_FILE,
    STUN_SERVERS,
    WAIT_DNS_SCRIPT,
    placeholder,
)
from generator.core.errors import RenderError
from generator.core.gitssh import git_ssh_config, pinned_known_hosts
from generator.core.hcl import template_escape
from generator.core.regions import region_timezone
from generator.core.templating import render_template, sh_quote
from generator.core.yamlio import dump_yaml
from generator.derive.bootnames import BOOTSTRAP_LINE, boot_files
from generator.derive.derived import Derived, derive, server_livekit_settings  # noqa: F401 - server_livekit_settings: its home before issue 24
from generator.derive.firewall import firewall_context
from generator.derive.hostnames import caddy_env_placeholder, host_refs
from generator.emit.agent import agent_files
from generator.emit.caddyconf import TURN_UPSTREAM_HOST, ZEROSSL_ACME, caddy_l4_config
from generator.emit.compose import CADDY_IMAGE, CADDY_L4_IMAGE, compose_project  # noqa: F401 - re-exported (tests, callers)
from generator.emit.sampleapp import SAMPLE_APP_DIR, sample_app_files
from generator.emit.templatefile import apply_template, sample_values  # noqa: F401 - their home before issue 24
from generator.scale.server import add_to_compose, sample_app_for, scale_boot_vars, scale_files

ph = placeholder  # short: it appears in nearly every line below


@dataclass(frozen=True)
class WriteFile:
    path: str
    content: str
    permissions: str = "0644"
    b64: bool = False
    gz: bool = False  # content is gzip + base64
    # What a change of the file means on the server (contract.BUNDLE_SERVICES): such a file
    # travels in the config bundle (generator/emit/bundle.py). None: boot-only, in user_data.
    service: str | None = None

    def as_cloud_config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "owner": "root:root", "permissions": self.permissions}
        if self.b64 or self.gz:
            entry["encoding"] = "gz+b64" if self.gz else "b64"
        entry["content"] = self.content
        return entry


# ---------------------------------------------------------------------------
# Files on the server


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
        zerossl=ZEROSSL_ACME,
        http_port=http_port,
        https_port=https_port,
    )


def docker_daemon_settings() -> dict[str, Any]:
    """/etc/docker/daemon.json: bounded container logs, and containers kept running while dockerd restarts.

    Example: ``docker_daemon_settings()["log-driver"]`` -> ``"local"``.
    """
    # The `local` driver rotates and compresses by itself (defaults 20 MB x 5); the limits are
    # written out so they are visible. live-restore: an apt upgrade of docker.io does not stop calls.
    # bip: docker0's address written out (Docker's default), because Caddy's layer4 dials LiveKit's
    # TURN listener there (caddyconf.TURN_UPSTREAM_HOST: a non-loopback address, for Firefox).
    return {"log-driver": "local", "log-opts": {"max-size": "20m", "max-file": "5"}, "live-restore": True, "bip": f"{TURN_UPSTREAM_HOST}/16"}


def server_timezone(config: StackConfig) -> str:
    """The server clock's zone: ``instance.timezone``, else the region's (data/regions.yaml), else UTC.

    Example: ``server_timezone(config)`` -> ``"Asia/Seoul"`` for ap-chuncheon-1.
    """
    return config.instance.timezone or region_timezone(config.region) or "UTC"


def _dns_wait_hosts(d: Derived) -> list[str]:
    """Hosts Caddy gets ACME certificates for (none with an origin certificate or its own CA;
    none to wait for with sslip.io names: the boot step already checked they resolve here)."""
    config = d.config
    if config.tls.mode != "acme" or config.domains.auto or config.scale.scaled:  # several nodes: names point at the NLB
        return []
    hosts = [ph("socket_host"), ph("livekit_host")]
    return hosts + [ph("turn_host")] if d.turn_tls else hosts


def _ready_words(config: StackConfig) -> list[str]:
    """Shell words after ``flowstack-agent --ready``: the TLS mode and each public name Caddy serves."""
    keys = ["socket_host", "livekit_host"] + (["turn_host"] if config.livekit.turn.via_caddy else [])
    if config.domains.auto:  # the names the boot step exported
        return [config.tls.mode] + [f'"${key.upper()}"' for key in keys]
    return [config.tls.mode] + [sh_quote(ph(key)) for key in keys]


def _bring_up_files(d: Derived) -> list[WriteFile]:
    config, wait_hosts = d.config, _dns_wait_hosts(d)
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
                wait_hosts=wait_hosts, ready_words=_ready_words(config), **scale_boot_vars(d),
            ),
            permissions="0755",
        ),
    ]
    if wait_hosts:
        files.append(WriteFile(WAIT_DNS_SCRIPT, render_template("wait-dns.py.j2", stun_servers=STUN_SERVERS, wait_seconds=DNS_WAIT_SECONDS), permissions="0755"))
    return files


def _derived(x: StackConfig | Derived) -> Derived:
    """``x`` when it is derived already (a build), else its derivation (tests, tools, one file)."""
    return x if isinstance(x, Derived) else derive(x)


def server_files(x: StackConfig | Derived) -> list[WriteFile]:
    """Every file cloud-init writes, with placeholders where deploy-time values go: a function of
    the derived facts (LiveKit's settings, the port policy, the host references, node 1's name)."""
    d = _derived(x)
    config = d.config
    # Everything from the config that can change later carries a `service` (it goes into the
    # bundle, applied in place by the agent); the rest is boot-only (user_data).
    files = [
        WriteFile(COMPOSE_FILE, dump_yaml(add_to_compose(config, compose_project(config))), service="compose"),
        # Holds the LiveKit API secret: root only.
        WriteFile(LIVEKIT_CONFIG, dump_yaml(d.livekit), permissions="0600", service="livekit"),
    ]
    if config.livekit.turn.via_caddy:
        files.append(WriteFile(f"{APP_DIR}/caddy.json", json.dumps(caddy_l4_config(config, d.boot_refs), separators=(",", ":")) + "\n", service="caddy"))
    else:
        files.append(WriteFile(f"{APP_DIR}/Caddyfile", render_caddyfile(config, hosts=d.caddy_refs), service="caddy"))
    files += [WriteFile(p, text, permissions=mode, service=svc) for p, text, mode, svc in scale_files(d)]  # several nodes: Redis
    if config.socket.secret_env:
        files.append(WriteFile(f"{APP_DIR}/socket-secrets.env", ph("socket_secret_env_b64"), permissions="0600", b64=True, service="socket"))
    if config.socket.image:
        files.append(WriteFile(REGISTRY_AUTH_FILE, ph("socket_registry_auth_b64"), permissions="0600", b64=True, service="socket"))
    if config.socket.sample:
        files += [WriteFile(f"{SAMPLE_APP_DIR}/{name}", data.decode("utf-8"), service="socket-build") for name, data in sample_app_for(config, sample_app_files()).items()]
    elif config.socket.git:
        source = {"url": ph("socket_git_url"), "ref": ph("socket_git_ref")}
        files.append(WriteFile(SOCKET_SOURCE_FILE, json.dumps(source, indent=2) + "\n", service="socket-build"))
        files.append(WriteFile(GIT_CREDENTIALS_FILE, ph("socket_git_credentials_b64"), permissions="0600", b64=True, service="socket-build"))
        if config.socket.git.ssh:  # the deploy-key route: the key (0600; empty when not given) and the only known_hosts ssh reads
            files.append(WriteFile(GIT_SSH_KEY_FILE, ph("socket_git_ssh_key_b64"), permissions="0600", b64=True, service="socket-build"))
            files.append(WriteFile(GIT_KNOWN_HOSTS_FILE, pinned_known_hosts(config.socket.git.known_hosts), service="socket-build"))
            files.append(WriteFile(GIT_SSH_CONFIG_FILE, git_ssh_config(), service="socket-build"))
    if config.domains.auto:
        files += [WriteFile(path, content, permissions=mode) for path, content, mode in _boot_names(d)]
    if config.tls.mode == "cloudflare_origin":
        files.append(WriteFile(f"{APP_DIR}/certs/origin.pem", ph("tls_origin_certificate_b64"), permissions="0644", b64=True, service="caddy"))
        files.append(WriteFile(f"{APP_DIR}/certs/origin-key.pem", ph("tls_origin_private_key_b64"), permissions="0600", b64=True, service="caddy"))
    files += [
        # Read by Docker at its first start (the bootstrap installs it after cloud-init wrote this).
        WriteFile(DOCKER_DAEMON_JSON, json.dumps(docker_daemon_settings(), indent=2) + "\n"),
        WriteFile("/etc/systemd/system/flowstack.service", render_template("flowstack.service.j2", app_dir=APP_DIR)),
        _without_comments(WriteFile(  # in the bundle, which shares the metadata budget with user_data
            FIREWALL_SCRIPT,
            render_template("firewall.sh.j2", **firewall_context(list(d.rules), config.livekit.port)),
            permissions="0755", service="firewall",
        )),
    ]
    return files + _bring_up_files(d) + [WriteFile(p, c, permissions=m) for p, c, m in agent_files()]


def to_template(text: str) -> str:
    """Server-file text as a Terraform template: ``${`` / ``%{`` made literal, then our marks -> ``${name}``.

    Example: ``to_template("a ${b} " + placeholder("c"))`` -> ``"a $${b} ${c}"``.
    """
    text = PLACEHOLDER_RE.sub(lambda m: "${" + m.group(1) + "}", template_escape(text))
    if PLACEHOLDER_MARK in text:
        raise RenderError("a placeholder mark was split by the YAML serializer")
    return text


def bundle_files(x: StackConfig | Derived, files: list[WriteFile] | None = None) -> list[WriteFile]:
    """The server files the config bundle carries (each with its ``service``), of ``files`` when given."""
    return [f for f in (files if files is not None else server_files(x)) if f.service is not None]


def _boot_names(d: Derived) -> list[tuple[str, str, str]]:
    """The boot step's files: which names it derives and which files carry its marks."""
    config, turn = d.config, d.turn_tls
    keys = ("socket_host", "livekit_host") + (("turn_host",) if turn else ())
    fill = ((LIVEKIT_CONFIG,) if turn else ()) + ((f"{APP_DIR}/caddy.json",) if config.livekit.turn.via_caddy else ())
    return boot_files(keys, fill)


_COMMENT_RE = re.compile(r"^[ \t]*#(?!!|[ \t]*shellcheck).*\n", re.MULTILINE)  # directives stay


def _without_comments(f: WriteFile) -> WriteFile:
    """A shipped shell script (bring-up, firewall) or systemd unit without its comment lines after
    the first (the "Generated by flowstack" line), as `pyship` does for Python: user_data and the
    bundle share OCI's 32,000 bytes, and the prose is in the templates and docs/server.md."""
    if f.b64 or f.gz or not (f.path.endswith((".service", ".timer")) or f.path in (BOOTSTRAP_SCRIPT, FIREWALL_SCRIPT)):
        return f
    head, sep, rest = f.content.partition("# Generated by flowstack")
    line, nl, body = rest.partition("\n")
    return dataclasses.replace(f, content=head + sep + line + " (comments: see its template)" + nl + _COMMENT_RE.sub("", body))


def cloud_config(x: StackConfig | Derived, files: list[WriteFile] | None = None) -> dict[str, Any]:
    """The cloud-config as data, of the server file set ``files`` when given."""
    d = _derived(x)
    return {
        # The bootstrap script installs packages itself, after the firewall step, so the
        # order is explicit and every step lands in one log.
        "package_update": False,
        # The clock's zone: scheduled jobs and log times follow the region's local hours.
        "timezone": server_timezone(d.config),
        # Boot-only files: the rest arrives in the config bundle, which the agent writes.
        "write_files": [_without_comments(f).as_cloud_config() for f in (files if files is not None else server_files(d)) if f.service is None],
        # Enable the bring-up unit before any network step, then start it without blocking
        # cloud-init: a failed try is retried by systemd (after a reboot too) until ready.
        "runcmd": [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", BOOTSTRAP_UNIT],
            # The agent's timer: config changes reach the running server (it waits for READY_MARKER).
            ["systemctl", "enable", "--now", AGENT_TIMER],
            ["systemctl", "enable", "--now", PRUNE_TIMER],
            ["systemctl", "start", "--no-block", BOOTSTRAP_UNIT],
        ],
        "final_message": "flowstack: cloud-init finished after $UPTIME seconds",
    }


def cloud_init_source(x: StackConfig | Derived, files: list[WriteFile] | None = None) -> str:
    """cloud-init.yaml before templating (of the server file set ``files``): placeholder marks still in it.

    Example: ``cloud_init_source(config).startswith("#cloud-config\\n")`` -> ``True``.
    """
    return "#cloud-config\n" + dump_yaml(cloud_config(x, files))


def render_cloud_init(x: StackConfig | Derived, source: str | None = None) -> str:
    """cloud-init.yaml as Terraform will read it with templatefile() (from ``source``, the
    `cloud_init_source` of a build, when given)."""
    return to_template(source if source is not None else cloud_init_source(x))
