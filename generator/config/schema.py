"""The stack config's schema: a typed, frozen model (pydantic), with no loading.

Everything a user need not decide has a default; unknown keys are rejected with a
"did you mean"; every field carries a description (used by `flowstack init` and the
README's reference).  `load_config` is the only way in, and it turns every failure
(missing file, YAML syntax, type, range, cross-field rule) into one `ConfigError` that
names the file, line, field, value and what would be right.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from typing import Literal

from pydantic import Field, field_validator, model_validator

from generator.config.alerts import Budget, TrafficAlarm
from generator.config.base import Model as _Model
from generator.config.base import Port
from generator.config.network import ExtraPort, Network
from generator.core.contract import secret_env_variable
from generator.core.gitssh import KNOWN_HOSTS_LINE_REGEX, is_ssh_url
from generator.core.regions import bounds
from generator.core.versions import livekit_image
from generator.scale.config import Scale

# Patterns for values that reach the server through Terraform variables. The same text is
# used here and in the variables' Terraform `validation` blocks (RE2 syntax: no look-arounds),
# so a config default can never fail its own deploy-time check.
# RFC 1123 host name with at least two labels: Caddy needs a real DNS name to get a certificate.
HOSTNAME_REGEX = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
# https (ssh URLs: core/gitssh.py, the deploy-key route). No quotes, spaces or shell syntax. No `@`
# before the first `/` (the authority): a user:token@ there would sit in the stack in plain text.
GIT_URL_REGEX = r"^https://[A-Za-z0-9][A-Za-z0-9._~:%+-]*(/[A-Za-z0-9._~:/@%+-]*)?$"
GIT_REF_REGEX = r"^[A-Za-z0-9._/+-]+$"
IMAGE_REGEX = r"^[A-Za-z0-9][A-Za-z0-9./:@_-]*$"
_HOSTNAME = re.compile(HOSTNAME_REGEX)
_USERINFO = re.compile(r"^https://[^/@]*@")
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
# Environment variable names the Socket.IO container receives.
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The reference config's example repository: never a real app. A config that keeps it (or
# gives no url) makes the URL a required deploy-time answer instead of shipping it silently.
EXAMPLE_GIT_URL_RE = re.compile(r"^https://github\.com/your-repo/")
_B = bounds()


class Image(_Model):
    operating_system: Literal["Canonical Ubuntu"] = Field("Canonical Ubuntu", description="Image operating system.")
    version: Literal["22.04", "24.04"] = Field("22.04", description="Ubuntu release; the newest matching image is looked up at deploy time.")


class Instance(_Model):
    shape: str = Field(
        "VM.Standard.A1.Flex",
        description="Compute shape. Must be a flexible shape (…Flex); VM.Standard.A1.Flex is the Always Free Ampere shape.",
    )
    ocpus: float = Field(2, ge=_B["instance_ocpus"][0], le=_B["instance_ocpus"][1], description="OCPUs. Default fits both the verified (4) and the reported (2) Always Free limit.")
    memory_gbs: float = Field(12, ge=_B["instance_memory_gbs"][0], le=_B["instance_memory_gbs"][1], description="Memory in GB. Default fits both the verified (24) and the reported (12) Always Free limit.")
    boot_volume_gbs: int = Field(50, ge=_B["boot_volume_gbs"][0], le=_B["boot_volume_gbs"][1], description="Boot volume size in GB (OCI minimum 47).")
    availability_domain: int = Field(
        1, ge=_B["availability_domain_number"][0], le=_B["availability_domain_number"][1], description="Default availability-domain number (1-based) for the deploy-time variable."
    )
    image: Image = Field(default_factory=Image, description="Ubuntu image to look up.")
    timezone: str | None = Field(
        None,
        description="IANA time zone of the server's clock (e.g. Asia/Seoul), set by cloud-init. "
        "Default: the region's zone from data/regions.yaml (UTC for a region it does not list).",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        zones = zoneinfo.available_timezones()
        if v is not None and zones and v not in zones:
            near = difflib.get_close_matches(v, sorted(zones), n=1)
            raise ValueError(f"{v!r} is not an IANA time zone" + (f"; did you mean {near[0]!r}?" if near else " such as Asia/Seoul"))
        return v

    @field_validator("shape")
    @classmethod
    def _flex(cls, v: str) -> str:
        if not v.endswith(".Flex"):
            raise ValueError("only flexible shapes (ending in .Flex) take shape_config; use VM.Standard.A1.Flex for Always Free")
        return v


class Domains(_Model):
    mode: Literal["custom", "auto"] = Field(
        "custom",
        description="custom: the host names below (you point their DNS A records at the server). auto: names derived from "
        "the server's public IP through sslip.io (socket.<ip>.sslip.io), found at boot; nothing to set up. "
        "Leaving `domains` out means auto.",
    )
    socket_host: str | None = Field(None, description="Host name of the Socket.IO server, e.g. space-socket.example.com (mode custom).")
    livekit_host: str | None = Field(None, description="Host name of the LiveKit server, e.g. space-livekit.example.com (mode custom).")
    turn_host: str | None = Field(None, description="Host name for TURN/TLS through Caddy (mode custom; needed when livekit.turn.tls_port is set).")

    @field_validator("socket_host", "livekit_host", "turn_host")
    @classmethod
    def _hostname(cls, v: str | None) -> str | None:
        if v is not None and (len(v) > 253 or not _HOSTNAME.match(v)):
            raise ValueError("must be a DNS host name such as space-socket.example.com (lower case, letters, digits, dashes, dots)")
        return v

    @model_validator(mode="after")
    def _distinct(self) -> Domains:
        given = [k for k in ("socket_host", "livekit_host", "turn_host") if getattr(self, k) is not None]
        if self.mode == "auto" and given:
            raise ValueError(f"mode auto derives the host names from the server's IP; remove {given[0]} or set mode: custom")
        if self.mode == "custom" and (self.socket_host is None or self.livekit_host is None):
            raise ValueError("mode custom needs socket_host and livekit_host; leave `domains` out (or set mode: auto) for sslip.io names")
        names = [h for h in (self.socket_host, self.livekit_host, self.turn_host) if h]
        if len(set(names)) != len(names):
            raise ValueError("socket_host, livekit_host and turn_host must all differ (Caddy routes by host name)")
        return self

    @property
    def auto(self) -> bool:
        """True when the names come from the server's IP at boot (sslip.io)."""
        return self.mode == "auto"


class Tls(_Model):
    mode: Literal["acme", "cloudflare_origin", "internal"] = Field(
        "acme",
        description="acme: Caddy gets Let's Encrypt certificates itself. cloudflare_origin: a Cloudflare origin "
        "certificate given at deploy time (sensitive variables). internal: Caddy's own CA (testing only).",
    )
    email: str | None = Field(None, description="ACME account e-mail (optional, recommended).")

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError("must be an e-mail address")
        return v


class SocketGit(_Model):
    url: str | None = Field(
        None,
        description="https:// git URL of the Socket.IO app (or ssh, git@github.com:owner/app.git: the deploy-key route), cloned and built on the server. Left out (or the example "
        "https://github.com/your-repo/...), it becomes a required question at deploy time (variable socket_git_url).",
    )
    ref: str = Field("main", description="Branch or tag to check out (git clone --branch; not a commit id).")
    path: str = Field(".", description="Directory inside the repository holding its Dockerfile.")
    deploy_key: bool | None = Field(
        None,
        description="Clone over ssh with a read-only deploy key (made by `flowstack deploy-key`, given at deploy time as the "
        "sensitive variable socket_git_ssh_key) against pinned host keys. Default: on for an ssh url (git@host:owner/app.git), "
        "off for https; true lets the ssh url be given at deploy time.",
    )
    known_hosts: list[str] = Field(default_factory=list, description="known_hosts lines (host ssh-ed25519 AAAA...) of a self-hosted git "
                                   "server for the deploy-key route; GitHub's and GitLab's keys are pinned already (data/git_host_keys.yaml).")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        # A user:token@ is left to inputguard, whose error masks it (this one would show the value).
        if v is not None and not is_ssh_url(v) and not re.fullmatch(GIT_URL_REGEX, _USERINFO.sub("https://", v, count=1)):
            raise ValueError("must be an https:// git URL or an ssh one (git@github.com:owner/app.git) of letters, digits and . _ ~ : / @ % + -")
        return v

    @field_validator("known_hosts")
    @classmethod
    def _known_hosts(cls, v: list[str]) -> list[str]:
        for line in v:
            if not re.fullmatch(KNOWN_HOSTS_LINE_REGEX, line):
                raise ValueError(f"{line[:60]!r} is not one known_hosts line such as 'git.example.com ssh-ed25519 AAAAC3Nz...' "
                                 "(ssh-keyscan -t ed25519 HOST, checked against the host's published fingerprint; no comment, no hashed names)")
        return v

    @model_validator(mode="after")
    def _route(self) -> SocketGit:
        if self.url is not None and is_ssh_url(self.url) and self.deploy_key is False:
            raise ValueError(f"url {self.url!r} is an ssh URL, which needs the deploy-key route: drop `deploy_key: false` "
                             "and make the key with `flowstack deploy-key NAME` (or use the https URL and a token, socket_git_token)")
        if self.known_hosts and not self.ssh:
            raise ValueError("known_hosts is for the deploy-key route: give an ssh url or deploy_key: true")
        return self

    @property
    def ssh(self) -> bool:
        """The deploy-key route is on: the stack asks for socket_git_ssh_key and pins host keys."""
        return bool(self.deploy_key) or (self.deploy_key is None and self.url is not None and is_ssh_url(self.url))

    @field_validator("ref", "path")
    @classmethod
    def _safe(cls, v: str) -> str:
        if not re.fullmatch(GIT_REF_REGEX, v) or ".." in v.split("/"):
            raise ValueError("may hold only letters, digits and . _ / + -")
        return v

    @property
    def known_url(self) -> str | None:
        """The URL, unless it is missing or the reference config's example (then it is asked at deploy time).

        Example: ``SocketGit(url="https://github.com/your-repo/x.git").known_url`` -> ``None``.
        """
        return None if self.url is None or EXAMPLE_GIT_URL_RE.match(self.url) else self.url


class SocketApp(_Model):
    image: str | None = Field(None, description="Container image of the Socket.IO app (e.g. ghcr.io/you/app:1.2). Give image or git; neither runs the built-in sample app.")

    @field_validator("image")
    @classmethod
    def _image(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(IMAGE_REGEX, v):
            raise ValueError("must be an image reference such as ghcr.io/you/app:1.0 (letters, digits and . / : @ _ -)")
        return v

    git: SocketGit | None = Field(None, description="Build the app on the server from a git repository instead of an image.")
    port: Port = Field(3001, description="Port the app listens on (host network, behind Caddy; never public).")
    health_path: str = Field("/health", description="HTTP path of the app's health check.")
    env: dict[str, str] = Field(default_factory=lambda: {"NODE_ENV": "production"}, description="Environment of the app container (no secrets here).")
    secret_env: list[str] = Field(
        default_factory=list,
        description="Names of secret environment variables; their values become sensitive deploy-time variables, never part of the zip.",
    )

    @field_validator("health_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", v):
            raise ValueError("must be an absolute URL path such as /health")
        return v

    @field_validator("env", "secret_env")
    @classmethod
    def _env_names(cls, v: dict[str, str] | list[str]) -> dict[str, str] | list[str]:
        for k in v:  # a dict iterates its keys
            if not _ENV_NAME.match(k):
                raise ValueError(f"environment variable name {k!r} is not valid")
        return v

    @property
    def sample(self) -> bool:
        """True when neither image nor git is given: the built-in sample app runs."""
        return self.image is None and self.git is None

    @model_validator(mode="after")
    def _one_source(self) -> SocketApp:
        if self.image is not None and self.git is not None:
            raise ValueError("give at most one of socket.image or socket.git (neither runs the built-in sample app)")
        seen: dict[str, str] = {}
        for name in self.secret_env:
            var = secret_env_variable(name)
            if var in seen:
                # Terraform refuses two `variable` blocks of one name ("Duplicate variable declaration").
                raise ValueError(f"secret_env names {seen[var]} and {name} both become the Terraform variable {var}; "
                                 "keep one of them (names are compared ignoring case)")
            seen[var] = name
        clash = set(self.env) & set(self.secret_env)
        if clash:
            raise ValueError(f"{sorted(clash)[0]} is in both env and secret_env")
        if "PORT" in self.env or "PORT" in self.secret_env:
            # Caddy and the health check use socket.port: a different PORT would leave them knocking on the wrong door.
            raise ValueError("PORT is set from socket.port; set socket.port instead of env.PORT")
        return self


class Rtc(_Model):
    tcp_port: Port | None = Field(7881, description="ICE over TCP (public). null turns it off.")
    port_range_start: Port | None = Field(50000, description="Start of the UDP media range (public).")
    port_range_end: Port | None = Field(60000, description="End of the UDP media range (public).")
    udp_port: Port | None = Field(None, description="UDP mux port; LiveKit ignores it when a port range is also set.")
    use_external_ip: bool = Field(True, description="Discover the public IP by STUN (needed on OCI: the VM only sees a private address).")

    @model_validator(mode="after")
    def _ports(self) -> Rtc:
        if (self.port_range_start is None) != (self.port_range_end is None):
            raise ValueError("set both port_range_start and port_range_end, or neither")
        if self.port_range_start is not None and self.port_range_start > self.port_range_end:  # type: ignore[operator]
            raise ValueError("port_range_start is above port_range_end")
        return self


class Turn(_Model):
    enabled: bool = Field(True, description="Run LiveKit's embedded TURN server (helps clients behind strict firewalls).")
    udp_port: Port | None = Field(3478, description="TURN/UDP port (public).")
    tls_port: Port | None = Field(
        None,
        description="Local port LiveKit takes TURN/TLS on from Caddy (e.g. 5349; never public): needs via_caddy: true and domains.turn_host.",
    )
    via_caddy: bool = Field(
        False,
        description="Route TURN/TLS through 443 by SNI (Caddy layer4), as LiveKit's own generator does: the only TURN/TLS mode that works (not with tls.mode cloudflare_origin).",
    )
    # Kept in livekit.yaml (LiveKit would pick 30000-40000 anyway): the range is where the
    # relay sockets bind, so the port-clash check keeps it off the media range. Never an
    # inbound rule: only replies to the relay's own packets arrive there (ports.py).
    relay_range_start: Port = Field(
        30000, description="Start of the local UDP ports LiveKit's TURN binds relay sockets on (never opened inbound: not needed)."
    )
    relay_range_end: Port = Field(40000, description="End of the TURN relay socket range (local; never opened inbound).")

    @model_validator(mode="after")
    def _ports(self) -> Turn:
        if self.relay_range_start > self.relay_range_end:
            raise ValueError("relay_range_start is above relay_range_end")
        if self.enabled and not self.udp_port and not self.tls_port:
            raise ValueError("TURN is enabled but neither udp_port nor tls_port is set (LiveKit refuses to start: invalid TURN ports)")
        if self.via_caddy and not self.tls_port:
            raise ValueError("via_caddy needs tls_port (the local port Caddy forwards TURN/TLS to, e.g. 5349)")
        if self.enabled and self.tls_port and not self.via_caddy:
            # LiveKit tells clients turns:<turn domain>:443 whatever tls_port is (roommanager.go),
            # and 443 is Caddy's: TURN/TLS only works when Caddy routes it there by SNI.
            raise ValueError(
                f"tls_port {self.tls_port} without via_caddy cannot work: LiveKit always advertises TURN/TLS on port 443, "
                "which Caddy holds; set via_caddy: true (Caddy forwards TURN/TLS from 443 to tls_port)"
            )
        return self


class LiveKit(_Model):
    image: str = Field(default_factory=livekit_image, description="LiveKit server image, pinned to a version (default: data/versions.yaml).")
    api_key: str = Field("APIflowstack", description="LiveKit API key name (the secret is generated at deploy time, never stored here).")
    port: Port = Field(7880, description="HTTP/WebSocket signalling port (behind Caddy, never public).")
    rtc: Rtc = Field(default_factory=Rtc, description="WebRTC transport ports.")
    turn: Turn = Field(default_factory=Turn, description="Embedded TURN server.")
    log_level: Literal["debug", "info", "warn", "error"] = Field("info", description="LiveKit log level.")
    drain_seconds: int = Field(
        300, ge=0, le=1500, strict=True,
        description="How long a LiveKit restart waits for rooms to empty (LiveKit drains on SIGTERM) before it stops the server.",
    )
    # Terraform makes a new secret when this number changes (random_password keepers):
    # `flowstack rotate-secret` bumps it; the number itself is not secret.
    api_secret_version: int = Field(
        1, ge=1, strict=True,
        description="Version of the generated LiveKit API secret: bump it (flowstack rotate-secret) to make a new one.",
    )

    @field_validator("api_key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_]{3,64}", v):
            raise ValueError("must be 3-64 letters, digits or underscores")
        return v

    @field_validator("image")
    @classmethod
    def _pinned(cls, v: str) -> str:
        if ":" not in v.rsplit("/", 1)[-1] or v.endswith(":latest"):
            raise ValueError(f"pin the image to a version, e.g. {livekit_image()}")
        return v


class StackConfig(_Model):
    name: str = Field(description="Stack name: lower case letters, digits, dashes (used for resource names and the zip).")
    description: str = Field("", description="Free text shown in the Resource Manager form.")
    region: str = Field("ap-chuncheon-1", description="OCI region identifier the stack is meant for.")
    always_free: bool = Field(True, description="Refuse sizes over the Always Free limits in force (set false to allow paid).")
    network: Network = Field(default_factory=Network, description="VCN and subnet.")
    instance: Instance = Field(default_factory=Instance, description="The compute instance.")
    domains: Domains = Field(
        default_factory=lambda: Domains(mode="auto"),
        description="Public host names. Leave out for sslip.io names derived from the server's IP (mode auto).",
    )
    tls: Tls = Field(default_factory=Tls, description="How Caddy gets certificates.")
    socket: SocketApp = Field(default_factory=SocketApp, description="The Socket.IO application: socket.image or socket.git; leave out for the built-in sample app.")
    livekit: LiveKit = Field(default_factory=LiveKit, description="The LiveKit server.")
    extra_ports: list[ExtraPort] = Field(default_factory=list, description="Additional public ports, each with a reason.")
    budget: Budget = Field(default_factory=Budget, description="Budget alerts as code (opt-in).")
    traffic_alarm: TrafficAlarm = Field(default_factory=TrafficAlarm, description="Outbound-traffic alarm (opt-in).")
    tags: dict[str, str] = Field(default_factory=dict, description="Freeform tags added to every resource.")
    scale: Scale = Field(default_factory=Scale, description="More than one node behind a load balancer (default: one node, today's stack).")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("must be 3-32 characters: lower case letters, digits and dashes, starting with a letter")
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z]{2}-[a-z]+-\d", v):
            raise ValueError("must be an OCI region identifier such as ap-chuncheon-1")
        return v

    @model_validator(mode="after")
    def _cross(self) -> StackConfig:
        turn = self.livekit.turn
        if turn.enabled and turn.tls_port and self.tls.mode == "cloudflare_origin":
            # An origin certificate is trusted only by Cloudflare, and Cloudflare's proxy cannot carry TURN.
            raise ValueError(
                "tls.mode cloudflare_origin cannot serve TURN/TLS (browsers do not trust an origin certificate and "
                "Cloudflare's proxy does not carry TURN); remove livekit.turn.tls_port (TURN/UDP still works) or use tls.mode: acme"
            )
        if turn.enabled and turn.tls_port and not self.domains.turn_host and not self.domains.auto:
            raise ValueError("livekit.turn.tls_port needs domains.turn_host (TURN/TLS needs its own certificate name)")
        if self.domains.auto and self.tls.mode == "cloudflare_origin":
            raise ValueError("tls.mode cloudflare_origin needs your own domains (Cloudflare serves only names in your zone); use tls.mode acme with sslip.io names")
        return self
