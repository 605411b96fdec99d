"""End to end on loopback: the generated Caddyfile, run by the real Caddy, in front of a real
Socket.IO server, with a real Socket.IO client over HTTPS (issue 4).

- Caddy: Debian's ``caddy``, given the Caddyfile ``render_caddyfile`` writes for a
  ``tls.mode: internal`` stack (Caddy's own CA), with host names ``*.localhost`` and free
  loopback ports through its ``http_port``/``https_port`` arguments. Caddy adapts it to
  JSON itself; the test then only changes what the Caddyfile leaves to the machine it runs
  on: listen on 127.0.0.1, no admin endpoint, no root-CA install into this machine's trust
  store. HOME and the XDG dirs are in tmp_path.
- The app: python-socketio's ``AsyncServer`` as an ASGI app under uvicorn on
  127.0.0.1:<socket.port>,
  ``GET /health`` -> 200, echoing events back (as an event and as an acknowledgement) with
  the transport it saw and the X-Forwarded-Proto Caddy sent.
- The client: python-socketio's ``AsyncClient`` through Caddy, trusting only Caddy's
  internal root CA (from its data dir), once with long-polling only and once with
  WebSocket only.

Caddy's certificate for the TURN host lands where livekit.yaml tells LiveKit to read it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from pathlib import Path
from typing import Any, Iterator

import aiohttp
import pytest
import requests
import socketio
import yaml
from e2e_support import CaddyProxy, Proc, free_port, wait_until

from generator.config.load import parse_config
from generator.config.schema import StackConfig
from generator.emit.cloudinit import render_caddyfile

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "stacks" / "flowspace.yaml"
HOSTS = {"socket_host": "socket.localhost", "livekit_host": "livekit.localhost", "turn_host": "turn.localhost"}

SOCKET_SERVER = r'''
"""A small real Socket.IO app: what the FlowSpace server does at its edges."""
import sys

import socketio
import uvicorn

port = int(sys.argv[1])
# Short ping interval and timeout: a pending long-poll GET returns within seconds (with a PING, so
# ping/pong crosses Caddy too), which keeps disconnects and shutdown quick.
sio = socketio.AsyncServer(async_mode="asgi", ping_interval=1, ping_timeout=3)


def header(scope, name):
    for key, value in scope.get("headers", []):
        if key.decode("latin-1").lower() == name:
            return value.decode("latin-1")
    return None


async def health(scope, receive, send):
    if scope["type"] != "http" or scope["path"] != "/health":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found"})
        return
    body = ('{"status": "ok", "forwarded_proto": "%s"}' % header(scope, "x-forwarded-proto")).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


app = socketio.ASGIApp(sio, other_asgi_app=health)


def seen(sid):
    environ = sio.get_environ(sid) or {}
    return {
        "transport": sio.transport(sid),
        "forwarded_proto": environ.get("HTTP_X_FORWARDED_PROTO"),
        "host": environ.get("HTTP_HOST"),
    }


@sio.on("echo")
async def echo(sid, data):
    reply = {"payload": data, **seen(sid)}
    await sio.emit("echo", reply, to=sid)
    return reply


# WebSocket through wsproto (in the test extra, and what python-engineio itself builds on).
uvicorn.run(app, host="127.0.0.1", port=port, ws="wsproto", log_level="warning", lifespan="off")
'''


def make_config(socket_port: int) -> StackConfig:
    data = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    data["tls"] = {"mode": "internal"}
    data["socket"]["port"] = socket_port
    # No TURN/TLS here: it only runs through Caddy's layer4 build (caddy.json), which the
    # LiveKit rig (tests/e2e/test_livekit_rig.py) runs; this test drives Debian's Caddy with the Caddyfile.
    return parse_config(yaml.safe_dump(data), "e2e")


@pytest.fixture
def localhost_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve ``*.localhost`` to 127.0.0.1 in this process, as RFC 6761 says they resolve
    (glibc here only knows the plain name from /etc/hosts; nothing system-wide is changed)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def socket_app(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    script = tmp_path / "socket_app.py"
    script.write_text(SOCKET_SERVER, encoding="utf-8")
    proc = Proc([sys.executable, str(script), str(port)], tmp_path / "socket_app.log")
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200, "Socket.IO app", proc)
        yield port
    finally:
        proc.stop()


class Caddy(CaddyProxy):
    """Debian's caddy running the Caddyfile flowstack generates for ``config`` (e2e_support.CaddyProxy
    adapts it, checks its listeners, and keeps it on loopback without an admin endpoint)."""

    def __init__(self, workdir: Path, config: StackConfig, http_port: int, https_port: int) -> None:
        self.config = config
        text = render_caddyfile(config, hosts=HOSTS, http_port=http_port, https_port=https_port)
        super().__init__(workdir, text, http_port=http_port, https_port=https_port)


@pytest.fixture
def caddy(tmp_path: Path, socket_app: int, localhost_names: None) -> Iterator[Caddy]:
    config = make_config(socket_app)
    workdir = tmp_path / "caddy"
    workdir.mkdir()
    with Caddy(workdir, config, free_port(), free_port()).serving(HOSTS["socket_host"]) as c:
        yield c


def test_caddy_serves_health_through_the_proxy(caddy: Caddy) -> None:
    s = caddy.session()
    r = s.get(caddy.url(HOSTS["socket_host"], caddy.config.socket.health_path), timeout=10)
    assert r.status_code == 200
    # The app answered, behind Caddy's TLS.
    assert r.json() == {"status": "ok", "forwarded_proto": "https"}
    # Plain HTTP on http_port redirects to HTTPS (Caddy's automatic redirects).
    redirect = requests.get(f"http://127.0.0.1:{caddy.http_port}/health", headers={"Host": HOSTS["socket_host"]}, allow_redirects=False, timeout=10)
    assert redirect.status_code in (301, 302, 307, 308)
    # (Caddy 2.6 leaves a non-default HTTPS port out of this redirect; the server's is 443.)
    assert redirect.headers["Location"] in (caddy.url(HOSTS["socket_host"], "/health"), f"https://{HOSTS['socket_host']}/health")
    # The certificate is not trusted without Caddy's root: verification is real.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(caddy.url(HOSTS["socket_host"], "/health"), timeout=10)


PAYLOADS = [
    {"type": "move", "x": 12, "y": -3, "avatar": "🦊", "room": "lobby"},
    {"type": "chat", "text": "안녕하세요, FlowSpace!" * 50},
    ["list", 1, 2.5, None, True],
    "x" * 65536,  # larger than one TLS record and than small proxy buffers
]


async def round_trip(caddy: Caddy, transport: str) -> None:
    # The asyncio client (aiohttp underneath): the threaded client's concurrent reads and
    # writes on one TLS socket drop wss:// connections now and then (python-socketio
    # issues 1568/1577, python-engineio 461), which is not what this test is about.
    tls = ssl.create_default_context(cafile=str(caddy.root_ca))  # Caddy's internal root only
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as http:
        client = socketio.AsyncClient(http_session=http, reconnection=False, request_timeout=10)
        events: asyncio.Queue[Any] = asyncio.Queue()

        @client.on("echo")
        async def on_echo(data: Any) -> None:
            await events.put(data)

        try:
            await client.connect(caddy.url(HOSTS["socket_host"]), transports=[transport], wait_timeout=15)
            assert client.transport() == transport
            for payload in PAYLOADS:
                ack = await client.call("echo", payload, timeout=15)
                event = await asyncio.wait_for(events.get(), timeout=15)
                for reply in (ack, event):
                    assert reply["payload"] == payload
                    # The server saw the client on this transport only (no upgrade
                    # happened), through Caddy over HTTPS, for the public host name.
                    assert reply["transport"] == transport
                    assert reply["forwarded_proto"] == "https"
                    assert reply["host"] == f"{HOSTS['socket_host']}:{caddy.https_port}"
        finally:
            await client.disconnect()


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_socketio_round_trip_through_caddy(caddy: Caddy, transport: str) -> None:
    asyncio.run(asyncio.wait_for(round_trip(caddy, transport), timeout=90))
