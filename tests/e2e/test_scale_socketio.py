"""Issue 25, step 5 (and the Socket.IO part of step 6): the sample app as several nodes run it.

Real parts: Debian's redis-server (password, AOF on, as node 1's redis.conf says), two real
sample-app processes (node, the files a scaled stack ships: templates/sample-app/server.js
with templates/scale/sample-app's package.json, lockfile and cluster.js, installed by npm ci
from the lockfile, offline from the npm cache `make sample-app-cache` fills), real
python-socketio clients, one on each instance. Replaced: the two nodes are two processes on
loopback (not two VMs behind OCI's NLB, which cannot run here), and node.js runs directly
instead of in the image the Dockerfile builds (Docker Hub is not reachable).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import socketio
from e2e_support import Proc, free_port, wait_until

from generator.config.load import parse_config
from generator.scale.server import redis_conf

pytestmark = [pytest.mark.slow, pytest.mark.multinode]

ROOT = Path(__file__).resolve().parents[2]
NPM_CACHE = Path(os.environ.get("FLOWSTACK_NPM_CACHE", ROOT / ".cache" / "npm"))
SCALED = "name: demo\nalways_free: false\ndomains: {socket_host: s.example.com, livekit_host: l.example.com}\nscale: {nodes: 2}\n"
PASSWORD = "testpassword0123456789"


def _app_files(target: Path) -> None:
    from generator.emit.sampleapp import sample_app_files
    from generator.scale.server import sample_app_for

    for name, data in sample_app_for(parse_config(SCALED), sample_app_files()).items():
        (target / name).write_bytes(data)


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not NPM_CACHE.is_dir():
        pytest.fail(f"the npm cache {NPM_CACHE} is missing: run `make sample-app-cache` (make test does)")
    target = tmp_path_factory.mktemp("scaled-sample-app")
    _app_files(target)
    done = subprocess.run(
        ["npm", "ci", "--offline", "--omit=dev", "--cache", str(NPM_CACHE), "--no-audit", "--no-fund", "--ignore-scripts"],
        check=False, cwd=target, env={**os.environ, "NPM_CONFIG_UPDATE_NOTIFIER": "false"},
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return target


class Redis:
    """redis-server with node 1's generated redis.conf (port and dir changed for loopback)."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.dir = free_port(), workdir
        conf = redis_conf(parse_config(SCALED)).replace("bind 0.0.0.0", "bind 127.0.0.1").replace("port 6379", f"port {self.port}")
        conf = conf.replace("dir /data", f"dir {workdir}") + f"requirepass {PASSWORD}\n"
        (workdir / "redis.conf").write_text(conf)
        self.proc: Proc | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server") or pytest.fail("redis-server is missing: tools/ensure-system-deps.sh installs it")
        self.proc = Proc([exe, str(self.dir / "redis.conf")], self.dir / "redis.log")
        wait_until(lambda: self.ping() == "PONG", "redis", self.proc)

    def ping(self) -> str:
        out = subprocess.run([shutil.which("redis-cli") or "redis-cli", "-p", str(self.port), "--no-auth-warning", "-a", PASSWORD, "ping"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip()

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()

    @property
    def url(self) -> str:
        return f"redis://:{PASSWORD}@127.0.0.1:{self.port}"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Redis]:
    r = Redis(tmp_path)
    r.start()
    try:
        yield r
    finally:
        r.stop()


def start_app(app_dir: Path, log: Path, redis_url: str) -> tuple[Proc, int]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "REDIS_URL": redis_url}
    proc = Proc(["node", "--require", "./cluster.js", "server.js"], log, cwd=app_dir, env=env)
    wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200, "sample app", proc)
    return proc, port


async def _scenario(ports: list[int], redis: Redis, transport: str) -> None:
    async with aiohttp.ClientSession() as http:
        clients = [socketio.AsyncClient(http_session=http, reconnection=False, request_timeout=10) for _ in ports]
        queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in ports]
        for c, q in zip(clients, queues, strict=True):
            c.on("chat", handler=q.put)
        try:
            for c, port in zip(clients, ports, strict=True):
                await c.connect(f"http://127.0.0.1:{port}", transports=[transport], wait_timeout=15)
            for i, c in enumerate(clients):
                assert (await c.call("join", {"room": "lobby", "name": f"user{i}"}, timeout=15))["ok"] is True
            await asyncio.sleep(0.5)  # the adapter's stream reader is running on both

            async def broadcast_reaches_the_other_node(text: str) -> None:
                assert (await clients[0].call("chat", {"text": text}, timeout=15))["ok"] is True
                got = await asyncio.wait_for(queues[1].get(), timeout=20)
                assert got["text"] == text and got["from"]["name"] == "user0"

            await broadcast_reaches_the_other_node("hello from node 1")
            # Redis restarts mid-test (AOF on: its data comes back); the adapter resumes.
            redis.stop()
            await asyncio.sleep(1)
            redis.start()
            await broadcast_reaches_the_other_node("after the restart")
            assert queues[0].empty()  # the sender does not hear itself
        finally:
            for c in clients:
                await c.disconnect()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_broadcast_reaches_clients_of_both_instances_and_survives_a_redis_restart(
        app_dir: Path, redis_server: Redis, tmp_path: Path, transport: str) -> None:
    apps = [start_app(app_dir, tmp_path / f"app{i}.log", redis_server.url) for i in range(2)]
    try:
        asyncio.run(asyncio.wait_for(_scenario([p for _, p in apps], redis_server, transport), timeout=120))
    finally:
        for proc, _ in apps:
            proc.stop()
    logs = "".join((tmp_path / f"app{i}.log").read_text() for i in range(2))
    assert PASSWORD not in logs  # the URL (with its password) is never logged


def test_without_the_adapter_the_broadcast_stays_on_its_node(app_dir: Path, redis_server: Redis, tmp_path: Path) -> None:
    """The failing side: two instances without REDIS_URL do not see each other's broadcasts."""
    apps = [start_app(app_dir, tmp_path / f"app{i}.log", "") for i in range(2)]

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            a, b = (socketio.AsyncClient(http_session=http, reconnection=False) for _ in range(2))
            q: asyncio.Queue[Any] = asyncio.Queue()
            b.on("chat", handler=q.put)
            await a.connect(f"http://127.0.0.1:{apps[0][1]}", transports=["websocket"])
            await b.connect(f"http://127.0.0.1:{apps[1][1]}", transports=["websocket"])
            for c, n in ((a, "a"), (b, "b")):
                await c.call("join", {"room": "lobby", "name": n})
            await a.call("chat", {"text": "alone"})
            await asyncio.sleep(1.5)
            assert q.empty()
            await a.disconnect()
            await b.disconnect()

    try:
        asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    finally:
        for proc, _ in apps:
            proc.stop()


def test_the_overlay_lockfile_pins_what_package_json_names(app_dir: Path) -> None:
    wanted = json.loads((app_dir / "package.json").read_text())["dependencies"]
    for name, version in wanted.items():
        installed = json.loads((app_dir / "node_modules" / name / "package.json").read_text())["version"]
        assert installed == version, name
