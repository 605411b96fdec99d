"""What several nodes add to the emitted stack: ``scale.tf`` (nodes 2..N, the load balancer,
Redis's password, the optional quota) and the server files of the bundle: Redis (a compose
service that runs only on node 1), its redis.conf and its env file, which also gives the
Socket.IO app its ``REDIS_URL``. Node 1's address comes derived (`Derived.redis_host`).

The bundle is the same on every node (generator/scale/stack.py), so the Redis service checks
the host name it runs under (compose's host network gives the container the node's host name:
node 1 is ``server``); every other node keeps an idle ``sleep`` in its place.

Example: ``redis_env(derive(config))`` -> ``"REDIS_PASSWORD=...\\nREDIS_URL=redis://:...@server.public.demo.oraclevcn.com:6379\\n"``.
"""

from __future__ import annotations

import math
from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import APP_DIR, BUNDLE_FORMAT, BUNDLE_METADATA_KEY, placeholder
from generator.core.errors import RenderError
from generator.core.templating import render_template, templates_dir
from generator.core.versions import versions
from generator.derive.derived import Derived

REDIS_ENV = f"{APP_DIR}/redis.env"
REDIS_CONF = f"{APP_DIR}/redis.conf"
NODE1_HOSTNAME = "server"  # main.tf's hostname_label of node 1
# What the load balancer forwards, each to the same port on every node (TCP pass-through).
LISTENERS = (
    {"name": "https", "port": 443, "why": "HTTPS and WebSocket signalling (and TURN/TLS by SNI when kept): Caddy on every node ends TLS."},
    {"name": "http", "port": 80, "why": "HTTP: ACME HTTP-01 challenges and Caddy's redirect to HTTPS."},
)
# A node's apply slot: its drain, plus the time compose needs to bring it back up.
RESTART_MINUTES = 5
REDIS_IMAGE_KEY = "redis"

# The password goes into a file inside the container (its own /tmp, readable by redis only),
# included by redis-server: never in argv (ps shows argv to every user) nor in a host file
# other than the root-only env file.
_START = (
    f'if [ "$$(hostname)" != {NODE1_HOSTNAME} ]; then exec sleep infinity; fi; '
    "umask 077; printf 'requirepass %s\\n' \"$$REDIS_PASSWORD\" > /tmp/auth.conf; chown redis /tmp/auth.conf; "
    "exec gosu redis redis-server /etc/redis/redis.conf --include /tmp/auth.conf"
)


# The sample app on several nodes: templates/scale/sample-app adds the Redis Streams adapter
# (package.json and its lockfile, and cluster.js, loaded before server.js); server.js itself is
# the one-node app unchanged, so one node's stack keeps its bytes.
SAMPLE_OVERLAY = ("package.json", "package-lock.json", "cluster.js")
_DOCKERFILE_EDITS = (('COPY server.js ./', 'COPY server.js cluster.js ./'),
                     ('CMD ["node", "server.js"]', 'CMD ["node", "--require", "./cluster.js", "server.js"]'))


def sample_app_for(config: StackConfig, files: dict[str, bytes]) -> dict[str, bytes]:
    """The sample app's files for ``config``: as given for one node, with the adapter for several."""
    if not config.scale.scaled:
        return files
    root = templates_dir() / "scale" / "sample-app"
    out = dict(files)
    for name in SAMPLE_OVERLAY:
        out[name] = (root / name).read_bytes()
    docker = files["Dockerfile"].decode("utf-8")
    for old, new in _DOCKERFILE_EDITS:
        if old not in docker:  # the one-node Dockerfile changed: this overlay must follow it
            raise RenderError(f"templates/sample-app/Dockerfile no longer has {old!r}: update generator/scale/server.py")
        docker = docker.replace(old, new)
    out["Dockerfile"] = docker.encode("utf-8")
    return dict(sorted(out.items()))


def scale_boot_vars(d: Derived) -> dict[str, str]:
    """What the first boot needs to share Caddy's storage (bootstrap.sh.j2; unused with one node)."""
    return {"node1": NODE1_HOSTNAME, "nfs_host": d.redis_host}


def redis_image() -> str:
    """The pinned Redis image (data/versions.yaml)."""
    return str(versions()["redis"]["image"])


def redis_env(d: Derived) -> str:
    """The root-only env file: Redis's password, and the URL the Socket.IO app connects with."""
    pw = placeholder("redis_password")
    return f"REDIS_PASSWORD={pw}\nREDIS_URL=redis://:{pw}@{d.redis_host}:{d.config.scale.redis.port}\n"


def add_to_compose(config: StackConfig, compose: dict[str, Any]) -> dict[str, Any]:
    """``compose`` with the Redis service and the app's REDIS_URL (unchanged for one node)."""
    if not config.scale.scaled:
        return compose
    services = compose["services"]
    socket = services["socket"]
    socket["env_file"] = [*socket.get("env_file", []), REDIS_ENV]
    services["redis"] = {
        "image": redis_image(),
        "entrypoint": ["sh", "-c", _START],
        "restart": "unless-stopped",
        # Host network: the other nodes reach it at node 1's VCN address (security list and host
        # firewall admit only the subnet); init reaps and forwards SIGTERM to the idle sleep.
        "network_mode": "host",
        "init": True,
        "env_file": [REDIS_ENV],
        "volumes": [f"{REDIS_CONF}:/etc/redis/redis.conf:ro", f"{APP_DIR}/redis-data:/data"],
    }
    return compose


def scale_files(d: Derived) -> list[tuple[str, str, str, str]]:
    """(path, content, mode, bundle service) of the files several nodes add; none for one node."""
    if not d.config.scale.scaled:
        return []
    # Bundle services the shipped agent already knows (contract.BUNDLE_SERVICES; a new one would
    # change the agent, and with it every one-node stack): the env file recreates the app; a
    # changed redis.conf is written and takes effect when Redis next restarts.
    return [(REDIS_ENV, redis_env(d), "0600", "socket"), (REDIS_CONF, redis_conf(d.config), "0644", "none")]


def slot_minutes(config: StackConfig) -> int:
    """Minutes between two nodes' apply times: the drain, then the restart.

    Example: ``slot_minutes(config)`` -> ``15`` with the default 600 s drain.
    """
    return math.ceil(config.scale.drain_seconds / 60) + RESTART_MINUTES


def render_scale_tf(config: StackConfig) -> str:
    """``scale.tf`` for a config with two or more nodes (it reads nothing derived)."""
    assert config.scale.scaled
    return render_template("scale/scale.tf.j2", c=config, n=config.scale.nodes, listeners=LISTENERS,
                           slot_minutes=slot_minutes(config), format=BUNDLE_FORMAT, bundle_key=BUNDLE_METADATA_KEY)


def redis_conf(config: StackConfig) -> str:
    """redis.conf of node 1's Redis (the password arrives on stdin, never in a file or argv)."""
    r = config.scale.redis
    persistence = (["appendonly yes", "appendfsync everysec", 'save ""'] if r.persistence == "aof"
                   else ["appendonly no", 'save ""'])
    lines = [
        "# Generated by flowstack: Redis for LiveKit's distributed mode and the Socket.IO adapter.",
        "# Listens on every address of node 1; the security list and the host firewall admit only",
        "# the stack's own subnet on this port, and every client needs the password.",
        "bind 0.0.0.0",
        f"port {r.port}",
        "protected-mode yes",
        f"maxmemory {r.maxmemory_mb}mb",
        # LiveKit's keys must not be evicted (a lost room-to-node entry splits a room): refuse writes instead.
        "maxmemory-policy noeviction",
        "dir /data",
        *persistence,
    ]
    return "\n".join(lines) + "\n"
