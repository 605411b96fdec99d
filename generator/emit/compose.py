"""The compose project the server runs: LiveKit, the Socket.IO app and Caddy (issue 21).

Why each setting (docs/server.md says it for the operator):

- ``restart: unless-stopped`` on every service: Docker itself brings a crashed container
  back, and brings the stack back after a reboot or a ``systemctl restart docker`` (the
  compose unit only runs ``up -d``; it never runs ``down``).
- a healthcheck on every service (LiveKit's HTTP port, Caddy's admin API, the app's health
  path), with a ``start_period`` and a short interval, so the bring-up's readiness waits
  for all three to be *healthy*, not just started, and is not held 30 s by a slow first probe.
- LiveKit drains on SIGTERM (rooms keep running, no new ones are placed): its
  ``stop_grace_period`` is ``livekit.drain_seconds``, so any stop or recreate waits that
  long for rooms to empty before Docker kills it.
- the app reaches LiveKit's API on the host directly (``LIVEKIT_URL``, through the bridge's
  gateway, ``host.docker.internal``), not through its public name (DNS, OCI's hairpin, TLS).
"""

from __future__ import annotations

from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import APP_DIR, LIVEKIT_CONFIG, placeholder
from generator.core.versions import caddy_l4_image
from generator.derive.bootnames import HOSTNAMES_ENV
from generator.emit.sampleapp import SAMPLE_APP_DIR

CADDY_IMAGE = "caddy:2.8.4"
# LiveKit's Caddy-with-layer4 build (livekit/deploy uses it); the tag is in data/versions.yaml.
CADDY_L4_IMAGE = caddy_l4_image()
# The bridge network's gateway as the app sees it (Docker >= 20.10 resolves host-gateway).
HOST_GATEWAY = "host.docker.internal"
CADDY_ADMIN = "http://127.0.0.1:2019/config/"


def internal_livekit_url(config: StackConfig) -> str:
    """The URL the app's server side uses for LiveKit's API (never the public one).

    >>> from generator.config.schema import StackConfig
    >>> internal_livekit_url(StackConfig.model_validate({"name": "demo", "region": "ap-chuncheon-1"}))
    'http://host.docker.internal:7880'
    """
    return f"http://{HOST_GATEWAY}:{config.livekit.port}"


def _health(test: list[str], start: str = "60s") -> dict[str, Any]:
    return {"test": test, "interval": "10s", "timeout": "5s", "retries": 3, "start_period": start}


def _wget(url: str) -> list[str]:
    # BusyBox wget: both images are Alpine-based (livekit/livekit-server, caddy).
    return ["CMD", "wget", "-q", "-O", "/dev/null", url]


def socket_service(config: StackConfig) -> dict[str, Any]:
    """The Socket.IO app's compose service: the user's image, their repository, or the sample app."""
    env = {"PORT": str(config.socket.port), "LIVEKIT_URL": internal_livekit_url(config), **config.socket.env}
    socket: dict[str, Any] = {}
    if config.socket.image:
        socket["image"] = placeholder("socket_image")
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
            # the instance metadata service (the firewall keeps Docker networks to DNS/DHCP/NTP
            # on 169.254.169.254) and listens only behind Caddy, on the loopback port published here.
            "ports": [f"127.0.0.1:{config.socket.port:d}:{config.socket.port:d}"],
            # LIVEKIT_URL's host: the bridge's gateway (the firewall accepts LiveKit's port from Docker bridges).
            "extra_hosts": [f"{HOST_GATEWAY}:host-gateway"],
            # "$" is compose's interpolation sign: double it so values arrive as written.
            "environment": {k: v.replace("$", "$$") for k, v in env.items()},
            "healthcheck": _health(["CMD", "node", "-e", probe], start="30s"),
        }
    )
    if config.socket.secret_env:
        socket["env_file"] = [f"{APP_DIR}/socket-secrets.env"]
    return socket


def compose_project(config: StackConfig) -> dict[str, Any]:
    """docker-compose.yml as data."""
    # LiveKit gets only its own config: TURN/TLS is terminated by Caddy (external_tls), so no
    # certificate or key of any host is mounted into it.
    lk_volumes = [f"{LIVEKIT_CONFIG}:/etc/livekit.yaml:ro"]
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
    caddy.update({"restart": "unless-stopped", "network_mode": "host", "volumes": caddy_volumes,
                  "healthcheck": _health(_wget(CADDY_ADMIN), start="30s")})
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
                # SIGTERM makes LiveKit drain (rooms keep running); Docker kills it after this long.
                "stop_signal": "SIGTERM",
                "stop_grace_period": f"{config.livekit.drain_seconds}s",
                # Without a STUN answer (or before the reserved IP is attached) LiveKit exits: the
                # start period covers the retries of its first minute.
                "healthcheck": _health(_wget(f"http://127.0.0.1:{config.livekit.port}/")),
            },
            "socket": socket_service(config),
            "caddy": caddy,
        },
    }
