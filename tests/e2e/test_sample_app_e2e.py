"""End to end on loopback: flowstack's built-in sample app (templates/sample-app) with the
machine's Node, behind the real Caddy, with real Socket.IO clients over HTTPS (issue 16).

- The app: its files copied to a temp dir, its dependencies installed by ``npm ci`` from
  its lockfile, offline from the repository's npm cache (``make sample-app-cache`` fills
  it from the registry; the test itself reaches nothing but loopback), run by ``node``.
  Replaced: Docker. The server builds the same files with the app's Dockerfile, which
  cannot run here (no Docker engine); this runs what that image runs, ``node server.js``.
- Caddy: Debian's ``caddy`` with templates/Caddyfile.j2 rendered for a ``tls.mode:
  internal`` stack (Caddy's own CA) on ``*.localhost`` names and free loopback ports
  (see tests/e2e_support.py for the little the test changes).
- The clients: python-socketio's ``AsyncClient`` through Caddy, trusting only Caddy's
  internal root, with long-polling only and with WebSocket only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import socketio
from e2e_support import (
    ROOT,
    CaddyProxy,
    Proc,
    caddyfile_from_template,
    free_port,
    resolve_localhost_names,
    wait_until,
)

from generator.config.load import parse_config
from generator.emit.cloudinit import render_caddyfile

pytestmark = pytest.mark.slow

APP = ROOT / "templates" / "sample-app"
NPM_CACHE = ROOT / ".cache" / "npm"
HOSTS = {"socket_host": "socket.localhost", "livekit_host": "livekit.localhost"}
ALLOWED_ORIGIN = "https://app.example.test"
OTHER_ORIGIN = "https://elsewhere.example.test"
QUIET = 1.0  # seconds a client must stay silent for "did not receive" to hold


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's files in a temp dir with ``npm ci`` run there (what the Dockerfile does)."""
    if not (NPM_CACHE / ".sample-app").exists():
        pytest.fail(f"the sample app's npm cache {NPM_CACHE} is empty: run `make sample-app-cache` (make test does)")
    target = tmp_path_factory.mktemp("sample-app")
    for name in ("package.json", "package-lock.json", "server.js"):
        shutil.copy2(APP / name, target / name)
    env = {**os.environ, "NPM_CONFIG_UPDATE_NOTIFIER": "false"}
    done = subprocess.run(
        ["npm", "ci", "--offline", "--omit=dev", "--cache", str(NPM_CACHE), "--no-audit", "--no-fund", "--ignore-scripts"],
        check=False, cwd=target, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def start_app(app_dir: Path, log: Path, **env: str) -> tuple[Proc, int]:
    port = free_port()
    full_env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", **env}
    proc = Proc(["node", "server.js"], log, cwd=app_dir, env=full_env)
    wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200, "sample app", proc)
    return proc, port


@pytest.fixture
def app(app_dir: Path, tmp_path: Path) -> Iterator[tuple[Proc, int]]:
    proc, port = start_app(app_dir, tmp_path / "app.log", CORS_ORIGINS=ALLOWED_ORIGIN)
    try:
        yield proc, port
    finally:
        proc.stop()


@pytest.fixture
def caddy(tmp_path: Path, app: tuple[Proc, int]) -> Iterator[CaddyProxy]:
    http_port, https_port = free_port(), free_port()
    text = caddyfile_from_template(socket_port=app[1], livekit_port=free_port(), hosts=HOSTS, http_port=http_port, https_port=https_port)
    with resolve_localhost_names(), CaddyProxy(tmp_path / "caddy", text, http_port=http_port, https_port=https_port).serving(HOSTS["socket_host"]) as proxy:
        yield proxy


def test_lockfile_install_is_what_package_json_pins(app_dir: Path) -> None:
    wanted = json.loads((APP / "package.json").read_text())["dependencies"]["socket.io"]
    installed = json.loads((app_dir / "node_modules" / "socket.io" / "package.json").read_text())["version"]
    assert installed == wanted


def test_health_and_metrics_through_caddy(caddy: CaddyProxy) -> None:
    s = caddy.session()
    health = s.get(caddy.url(HOSTS["socket_host"], "/health"), timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    metrics = s.get(caddy.url(HOSTS["socket_host"], "/metrics"), timeout=10).json()
    assert metrics["server"] == "socket.io"
    assert metrics["version"] == json.loads((APP / "package.json").read_text())["version"]
    # Like the FlowSpace server's: the root filesystem as df reports it.
    disk, here = metrics["storage"], shutil.disk_usage("/")  # the app runs on this machine
    assert disk["mountPoint"] == "/" and disk["totalGB"] == pytest.approx(here.total / 1e9, abs=0.01)
    assert disk["availableGB"] == pytest.approx(here.free / 1e9, abs=0.5)  # free space moves
    assert 0 <= disk["usedPercent"] <= 100 and disk["usedGB"] + disk["availableGB"] <= disk["totalGB"] + 0.01
    assert metrics["connections"] == {"current": 0, "total": 0}
    assert s.get(caddy.url(HOSTS["socket_host"], "/nothing-here"), timeout=10).status_code == 404
    # Verification is real: without Caddy's root the certificate is refused.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(caddy.url(HOSTS["socket_host"], "/health"), timeout=10)


def test_cors_allows_only_the_configured_origin(caddy: CaddyProxy) -> None:
    s = caddy.session()
    url = caddy.url(HOSTS["socket_host"], "/socket.io/?EIO=4&transport=polling")
    allowed = s.get(url, headers={"Origin": ALLOWED_ORIGIN}, timeout=10)
    assert allowed.status_code == 200 and allowed.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    own = s.get(url, headers={"Origin": caddy.url(HOSTS["socket_host"])}, timeout=10)  # the page the app serves from
    assert own.status_code == 200
    other = s.get(url, headers={"Origin": OTHER_ORIGIN}, timeout=10)
    assert other.status_code == 403 and "Access-Control-Allow-Origin" not in other.headers
    assert s.get(url, timeout=10).status_code == 200  # no Origin: not a browser


async def connect_with_origin(caddy: CaddyProxy, tls: ssl.SSLContext, origin: str) -> bool:
    """Whether a WebSocket-only client sending ``origin`` gets connected."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as http:
        client = socketio.AsyncClient(http_session=http, reconnection=False, request_timeout=10)
        try:
            await client.connect(caddy.url(HOSTS["socket_host"]), headers={"Origin": origin}, transports=["websocket"], wait_timeout=15)
        except socketio.exceptions.ConnectionError:
            return False
        await client.disconnect()
        return True


def test_websocket_upgrades_are_held_to_the_same_origins(caddy: CaddyProxy, caddy_tls: ssl.SSLContext) -> None:
    """CORS does not cover WebSocket; the app checks Origin itself, so the other origin
    that polling refuses cannot open a WebSocket either."""
    assert asyncio.run(connect_with_origin(caddy, caddy_tls, ALLOWED_ORIGIN)) is True
    assert asyncio.run(connect_with_origin(caddy, caddy_tls, OTHER_ORIGIN)) is False


class Client:
    """One Socket.IO client through Caddy; every presence and chat event lands in a queue."""

    def __init__(self, http: aiohttp.ClientSession, name: str) -> None:
        self.name = name
        self.sio = socketio.AsyncClient(http_session=http, reconnection=False, request_timeout=10)
        self.events: dict[str, asyncio.Queue[Any]] = {"presence": asyncio.Queue(), "chat": asyncio.Queue()}
        for event, queue in self.events.items():
            self.sio.on(event, handler=queue.put)

    async def connect(self, url: str, transport: str) -> None:
        await self.sio.connect(url, transports=[transport], wait_timeout=15)
        assert self.sio.transport() == transport

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, timeout=15)

    async def next(self, event: str) -> Any:
        return await asyncio.wait_for(self.events[event].get(), timeout=15)

    async def assert_silent(self, event: str) -> None:
        await asyncio.sleep(QUIET)
        assert self.events[event].empty(), f"{self.name} got {event}: {self.events[event].get_nowait()!r}"


@pytest.fixture
def caddy_tls(caddy: CaddyProxy) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(caddy.root_ca))  # Caddy's internal root only


@contextlib.asynccontextmanager
async def clients(tls: ssl.SSLContext, *names: str) -> AsyncIterator[list[Client]]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as http:
        made = [Client(http, n) for n in names]
        try:
            yield made
        finally:
            for c in made:
                await c.sio.disconnect()


async def rooms_scenario(caddy: CaddyProxy, tls: ssl.SSLContext, transport: str) -> None:
    url = caddy.url(HOSTS["socket_host"])
    async with clients(tls, "alice", "bob", "carol") as (alice, bob, carol):
        for c in (alice, bob, carol):
            await c.connect(url, transport)
        assert (await alice.call("chat", {"text": "anyone?"}))["ok"] is False  # not in a room yet
        joined = await alice.call("join", {"room": "lobby", "name": "alice"})
        assert joined["ok"] is True and [m["name"] for m in joined["members"]] == ["alice"]
        joined = await bob.call("join", {"room": "lobby", "name": "bob"})
        assert sorted(m["name"] for m in joined["members"]) == ["alice", "bob"]
        seen = await alice.next("presence")
        assert seen == {"type": "join", "room": "lobby", "id": bob.sio.get_sid(), "name": "bob", "count": 2}
        assert (await carol.call("join", {"room": "elsewhere", "name": "carol"}))["ok"] is True

        text = "안녕하세요, FlowSpace! " * 20
        assert (await alice.call("chat", {"text": text}))["ok"] is True
        got = await bob.next("chat")
        assert got["room"] == "lobby" and got["text"] == text and got["from"]["name"] == "alice"
        # The negative case: neither the other room nor the sender hears it, and nobody
        # outside the lobby saw bob arrive.
        await carol.assert_silent("chat")
        await alice.assert_silent("chat")
        assert carol.events["presence"].empty()
        assert (await bob.call("chat", {"text": "x" * 2001}))["ok"] is False  # over the limit
        assert (await bob.call("join", {"room": "", "name": "bob"}))["ok"] is False

        metrics = caddy.session().get(caddy.url(HOSTS["socket_host"], "/metrics"), timeout=10).json()
        assert metrics["connections"]["current"] == 3
        assert metrics["rooms"] == {"count": 2, "members": 3}
        assert metrics["messages"]["relayed"] == 1

        await bob.sio.disconnect()
        left = await alice.next("presence")
        assert left["type"] == "leave" and left["name"] == "bob" and left["count"] == 1


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_rooms_presence_and_chat_through_caddy(caddy: CaddyProxy, caddy_tls: ssl.SSLContext, transport: str) -> None:
    asyncio.run(asyncio.wait_for(rooms_scenario(caddy, caddy_tls, transport), timeout=120))


def test_sigterm_closes_clients_and_exits_cleanly(app_dir: Path, tmp_path: Path) -> None:
    proc, port = start_app(app_dir, tmp_path / "app.log")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            c = Client(http, "dora")
            await c.connect(f"http://127.0.0.1:{port}", "websocket")
            gone = asyncio.Event()
            c.sio.on("disconnect", handler=lambda *reason: gone.set())
            proc.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(gone.wait(), timeout=10)

    try:
        asyncio.run(scenario())
        assert proc.proc.wait(timeout=10) == 0, proc.output()
        assert "SIGTERM: closing 1 connections" in proc.output()
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "30o1"}, 'Error: PORT is "30o1"; it must be a whole number from 1 to 65535'),
        ({"PORT": "70000"}, 'Error: PORT is "70000"'),
        ({"CORS_ORIGINS": "https://ok.example.test,app.example.test"}, 'Error: CORS_ORIGINS has "app.example.test"'),
    ],
)
def test_bad_settings_stop_with_one_error_line(app_dir: Path, env: dict[str, str], message: str) -> None:
    done = subprocess.run(["node", "server.js"], check=False, cwd=app_dir, env={**os.environ, "HOST": "127.0.0.1", "PORT": str(free_port()), **env},
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1


def test_dockerfile_healthcheck_command_probes_the_app(app: tuple[Proc, int]) -> None:
    """The HEALTHCHECK's exec-form command from the Dockerfile, run with this Node: healthy
    against the running app, unhealthy against a port nothing listens on."""
    line = next(l for l in (APP / "Dockerfile").read_text().splitlines() if l.lstrip().startswith("CMD [\"node\", \"-e\""))
    argv = json.loads(line.split("CMD", 1)[1])
    for port, code in ((app[1], 0), (free_port(), 1)):
        done = subprocess.run(argv, check=False, env={**os.environ, "PORT": str(port)}, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        assert done.returncode == code, (port, done.stderr)


@pytest.fixture
def generated_caddy(tmp_path: Path, app: tuple[Proc, int], monkeypatch: pytest.MonkeyPatch) -> Iterator[CaddyProxy]:
    """Caddy running the generator's own Caddyfile for a stack with neither domains nor socket
    (issue 16): sites named ``{$SOCKET_HOST}`` / ``{$LIVEKIT_HOST}``, expanded by Caddy at
    load from the environment, which the boot step's env file gives it on the server.
    Replaced: the sslip.io names by ``*.localhost`` ones, and Let's Encrypt by Caddy's
    internal CA (``tls.mode: internal``): neither the internet nor ACME can be reached here."""
    http_port, https_port = free_port(), free_port()
    config = parse_config(f"name: e2e\ntls: {{mode: internal}}\nsocket: {{port: {app[1]}}}\n", "e2e.yaml")
    assert config.domains.auto and config.socket.sample
    text = render_caddyfile(config, http_port=http_port, https_port=https_port)
    assert "{$SOCKET_HOST} {" in text
    monkeypatch.setenv("SOCKET_HOST", HOSTS["socket_host"])
    monkeypatch.setenv("LIVEKIT_HOST", HOSTS["livekit_host"])
    with resolve_localhost_names(), CaddyProxy(tmp_path / "caddy", text, http_port=http_port, https_port=https_port).serving(HOSTS["socket_host"]) as proxy:
        yield proxy


def test_rooms_through_the_generated_auto_domain_caddyfile(generated_caddy: CaddyProxy) -> None:
    tls = ssl.create_default_context(cafile=str(generated_caddy.root_ca))
    asyncio.run(asyncio.wait_for(rooms_scenario(generated_caddy, tls, "websocket"), timeout=120))
