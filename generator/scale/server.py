"""The server files several nodes add to the bundle: Redis (a compose service that runs only on
node 1) and its env file, which also gives the Socket.IO app its ``REDIS_URL``.

The bundle is the same on every node (generator/scale/stack.py), so the Redis service checks
the host name it runs under (compose's host network gives the container the node's host name:
node 1 is ``server``); every other node keeps an idle ``sleep`` in its place.

Example: ``redis_env(config)`` -> ``"REDIS_PASSWORD=...\\nREDIS_URL=redis://:...@server.public.demo.oraclevcn.com:6379\\n"``.
"""

from __future__ import annotations

from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import APP_DIR, placeholder
from generator.core.errors import RenderError
from generator.core.templating import templates_dir
from generator.core.versions import versions

from .stack import redis_conf, redis_host

REDIS_ENV = f"{APP_DIR}/redis.env"
REDIS_CONF = f"{APP_DIR}/redis.conf"
NODE1_HOSTNAME = "server"  # main.tf's hostname_label of node 1

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


def scale_boot_vars(config: StackConfig) -> dict[str, str]:
    """What the first boot needs to share Caddy's storage (bootstrap.sh.j2; unused with one node)."""
    return {"node1": NODE1_HOSTNAME, "nfs_host": redis_host(config)}


def redis_image() -> str:
    """The pinned Redis image (data/versions.yaml)."""
    return str(versions()["redis"]["image"])


def redis_env(config: StackConfig) -> str:
    """The root-only env file: Redis's password, and the URL the Socket.IO app connects with."""
    pw = placeholder("redis_password")
    return f"REDIS_PASSWORD={pw}\nREDIS_URL=redis://:{pw}@{redis_host(config)}:{config.scale.redis.port}\n"


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


def scale_files(config: StackConfig) -> list[tuple[str, str, str, str]]:
    """(path, content, mode, bundle service) of the files several nodes add; none for one node."""
    if not config.scale.scaled:
        return []
    # Bundle services the shipped agent already knows (contract.BUNDLE_SERVICES; a new one would
    # change the agent, and with it every one-node stack): the env file recreates the app; a
    # changed redis.conf is written and takes effect when Redis next restarts.
    return [(REDIS_ENV, redis_env(config), "0600", "socket"), (REDIS_CONF, redis_conf(config), "0644", "none")]
