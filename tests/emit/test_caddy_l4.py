"""Issue 21 item 6: TURN/TLS through Caddy (``turn.via_caddy``), the generated caddy.json run by
the real layer4 build of Caddy (tools/build-caddy-l4.sh, the version data/versions.yaml pins).

In namespaces of the test's own: "server" (Caddy with the generated caddy.json; a stand-in app
on socket.port that answers with the X-Forwarded-For it got; a stand-in for LiveKit's TURN
listener on 0.0.0.0:5349 that answers with the address the connection came from; a dummy
``docker0`` (a veth here: no dummy driver in this kernel) with 172.17.0.1/16, as Docker creates it with the ``bip`` daemon.json pins) and
"client" (10.77.0.2). Replaced, and why: the app, LiveKit's TURN listener and docker0 (no
Docker engine or LiveKit needed to see what Caddy forwards; the LiveKit rig runs the real TURN);
Caddy's storage root /data -> a temp directory, and ``tls.mode: internal`` (no ACME CA offline:
Caddy's own CA, trusted by the client from Caddy's storage). Checked, each failing on f81956f's
caddy.json: port 80 answers with a redirect to HTTPS (no http app before); the app sees the
client's address (layer4 proxied it from 127.0.0.1 before); LiveKit's TURN listener is dialled
at a non-loopback address (livekit/deploy's updateip.go: TURN/TLS needs it for Firefox).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from variants import make_config

from generator.build.preview import preview_files
from generator.core.versions import versions
from generator.emit.cloudinit import docker_daemon_settings

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
_L4 = versions()["caddy_l4"]
CADDY = ROOT / ".tools" / f"caddy-l4-{_L4['caddy']}-{_L4['caddy_l4']}" / "caddy"
CONFIG = {"domains": {"turn_host": "space-turn.flow-coder.com"}, "tls": {"mode": "internal"},
          "livekit": {"turn": {"tls_port": 5349, "via_caddy": True}}}

_STANDINS = r"""
import http.server, socket, sys, threading
class App(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("xff=%s peer=%s" % (self.headers.get("X-Forwarded-For"), self.client_address[0])).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a):
        pass
def turn():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 5349)); s.listen()
    while True:
        c, peer = s.accept(); c.recv(16); c.sendall(("turn-peer=%s" % peer[0]).encode()); c.close()
threading.Thread(target=turn, daemon=True).start()
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), App).serve_forever()
"""


def _ns(name: str, *cmd: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", name, *cmd], capture_output=True, text=True, timeout=30, check=False, **kw)  # type: ignore[call-overload]


@pytest.fixture
def netns(tmp_path: Path):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 (network namespaces)")
    if not CADDY.exists():
        pytest.skip(f"the layer4 Caddy build is missing: run `make caddy-l4` ({CADDY})")
    p = f"fl{os.getpid() % 10000}{os.urandom(2).hex()}"
    server, client = f"{p}-s", f"{p}-c"
    setup = f"""set -e
ip netns add {server}; ip netns add {client}
ip link add {p}-s type veth peer name {p}-c
ip link set {p}-s netns {server}; ip link set {p}-c netns {client}
ip -n {server} addr add 10.77.0.1/24 dev {p}-s; ip -n {client} addr add 10.77.0.2/24 dev {p}-c
ip -n {server} link add docker0 type veth peer name {p}-d; ip -n {server} link set {p}-d up; ip -n {server} addr add {docker_daemon_settings()["bip"]} dev docker0
for l in lo {p}-s docker0; do ip -n {server} link set $l up; done
for l in lo {p}-c; do ip -n {client} link set $l up; done
"""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(["bash", "-c", setup], check=True, capture_output=True, timeout=30)
        yield server, client, procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
        subprocess.run(["ip", "link", "del", f"{p}-s"], capture_output=True, timeout=10)
        for ns in (server, client):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def test_l4_caddy_redirects_forwards_client_addresses_and_dials_turn_off_loopback(netns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, client, procs = netns
    config = make_config(CONFIG)
    files = preview_files(config, sample=True)
    conf = json.loads(files["files/opt/flowstack/caddy.json"])
    conf["storage"]["root"] = str(tmp_path / "data")  # /data is a docker volume on the server
    (tmp_path / "caddy.json").write_text(json.dumps(conf))
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    log = (tmp_path / "caddy.log").open("wb")
    procs.append(subprocess.Popen(["ip", "netns", "exec", server, str(CADDY), "run", "--config", str(tmp_path / "caddy.json")],
                                  stdout=log, stderr=subprocess.STDOUT, env=env))
    procs.append(subprocess.Popen(["ip", "netns", "exec", server, sys.executable, "-c", _STANDINS, str(config.socket.port)]))
    root = tmp_path / "data" / "pki" / "authorities" / "local" / "root.crt"
    sh, th = config.domains.socket_host, config.domains.turn_host
    probe = r"""
import socket, ssl, sys, time
kind, host, ca = sys.argv[1], sys.argv[2], sys.argv[3]
for _ in range(100):
    try:
        if kind == "http":
            s = socket.create_connection(("10.77.0.1", 80), timeout=3)
            s.sendall(("GET /x?y=1 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
        else:
            ctx = ssl.create_default_context(cafile=ca)
            s = ctx.wrap_socket(socket.create_connection(("10.77.0.1", 443), timeout=3), server_hostname=host)
            s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode() if kind == "https" else b"hello")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        print(data.decode(errors="replace")); break
    except (OSError, ssl.SSLError) as exc:
        err = exc; time.sleep(0.2)
else:
    print("FAILED", err)
"""
    deadline = time.monotonic() + 30
    while not root.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert root.exists(), (tmp_path / "caddy.log").read_text()[-3000:]
    redirect = _ns(client, sys.executable, "-c", probe, "http", sh, str(root)).stdout
    assert redirect.startswith("HTTP/1.1 308") and f"Location: https://{sh}/x?y=1" in redirect, redirect
    app = _ns(client, sys.executable, "-c", probe, "https", sh, str(root)).stdout
    assert "xff=10.77.0.2 peer=127.0.0.1" in app, app + (tmp_path / "caddy.log").read_text()[-3000:]
    turn = _ns(client, sys.executable, "-c", probe, "turn", th, str(root)).stdout
    assert turn.strip() == "turn-peer=172.17.0.1", turn + (tmp_path / "caddy.log").read_text()[-3000:]
    assert not socket.inet_aton("172.17.0.1").startswith(b"\x7f")
