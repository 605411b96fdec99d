"""Config variants on a real Docker engine (issue 20, part 3): one ``docker compose up`` each.

Real: Debian's dockerd 20.10 with its containerd and runc, in a network and mount namespace of
its own (tests/rig/engine.py); Docker Compose v2.40.3 as a CLI plugin built from the Go module
proxy (tools/build-docker-plugins.sh); the files are exactly what ``flowstack preview CONFIG
--sample`` writes for the server (compose file, livekit.yaml, Caddyfile or caddy.json, the
sample app's Dockerfile and sources), placed at /opt/flowstack where the compose file expects
them; the real LiveKit server, the real Caddy, the sample app built by compose with its own
Dockerfile (``npm ci`` from its lockfile over the network).

Replaced, and why:
- Docker Hub: cannot be reached. The images are built here FROM scratch and tagged with the
  exact names the compose file uses (tests/rig/engine_images.py: LiveKit at the pinned version, Caddy
  2.6.2 from Debian standing for caddy:2.8.4, Caddy+layer4 at the pinned version, Node 20 from
  the machine standing for node:26-alpine).
- registry.npmjs.org: the node image's npm points at a registry in the rig serving the
  lockfile's tarballs byte for byte from ``make sample-app-cache``'s cache (integrity checked
  by npm).
- Let's Encrypt: cannot be reached, so every variant uses ``tls.mode: internal`` (Caddy's own
  CA; a mode the config offers) except the Cloudflare one, whose origin certificate and key are
  made by a throw-away test CA (Cloudflare's origin CA cannot be reached) and given as the
  deploy-time values (``flowstack preview --var``).
- The internet's STUN servers: the rig's DNS on 169.254.169.254 (the engine's resolver, as on
  OCI) answers Google's STUN names (LiveKit's defaults) with the rig's STUN responder, which
  reports the server's address; nothing in livekit.yaml is edited.
- sslip.io names: the boot step's hostnames.env is written by the test as the boot step writes
  it (that step needs the instance's public IP; tests/derive/test_autodomain.py covers it).
"""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rig import engine_images as images
from rig.compose_stack import EngineStack, preview, start_vcn
from rig.engine import Engine, available, plugin_dir

from generator.emit.cloudinit import docker_daemon_settings

ROOT = Path(__file__).resolve().parents[2]
# Run on the server: TLS to Caddy's 443 with SNI argv[1] trusting argv[2], then one STUN Binding.
STUN_OVER_TLS = """
import os, socket, ssl, struct, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
deadline = time.monotonic() + 40
while True:
    try:
        with socket.create_connection(("127.0.0.1", 443), timeout=10) as raw, ctx.wrap_socket(raw, server_hostname=sys.argv[1]) as s:
            s.sendall(struct.pack(">HHI", 1, 0, 0x2112A442) + os.urandom(12))
            head = s.recv(20)
            print("binding-success" if struct.unpack(">H", head[:2])[0] == 0x0101 else head.hex())
            break
    except (OSError, ssl.SSLError) as e:
        if time.monotonic() > deadline:
            raise
        time.sleep(1)
"""
NPM_CACHE = Path(os.environ.get("FLOWSTACK_NPM_CACHE", ROOT / ".cache" / "npm"))
SOCKET, LIVEKIT, TURN = "space-socket.flow-coder.com", "space-livekit.flow-coder.com", "space-turn.flow-coder.com"
DOMAINS = {"socket_host": SOCKET, "livekit_host": LIVEKIT}
TIMES: dict[str, float] = {}

pytestmark = [pytest.mark.slow, pytest.mark.engine]


def _config(tmp: Path, name: str, doc: dict[str, Any]) -> Path:
    base = {"name": "flowspace", "region": "ap-chuncheon-1", "tls": {"mode": "internal"}}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(base | doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    why = available()
    if why:
        pytest.skip(why)
    plugins = plugin_dir()
    if plugins is None:
        pytest.fail("Docker Compose plugin not built: run tools/build-docker-plugins.sh (make docker-plugins; make test-engine does)")
    missing = images.missing_inputs()
    if missing:
        pytest.fail("image inputs missing: " + "; ".join(missing))
    if not (NPM_CACHE / ".sample-app").exists():
        pytest.fail(f"the sample app's npm cache {NPM_CACHE} is empty: run `make sample-app-cache`")
    with tempfile.TemporaryDirectory(prefix="fse", dir="/tmp") as tmp:
        t0 = time.monotonic()
        with Engine(Path(tmp), plugins=plugins, daemon_json=docker_daemon_settings()) as eng:
            TIMES["engine start"] = time.monotonic() - t0
            t0 = time.monotonic()
            eng.load(list(images.build(eng).values()))
            TIMES["images (build or load)"] = time.monotonic() - t0
            start_vcn(eng, Path(tmp) / "vcn.log", NPM_CACHE)
            yield eng
    print("engine rig times (s):", {k: round(v, 1) for k, v in TIMES.items()})


def _run_variant(engine: Engine, tmp: Path, name: str, doc: dict[str, Any], *extra: str) -> EngineStack:
    stack = EngineStack(engine, preview(_config(tmp, name, doc), tmp / "preview", *extra))
    stack.install()
    return stack


def _up_and_check(stack: EngineStack, name: str, socket_host: str, livekit_host: str) -> dict[str, Any]:
    t0 = time.monotonic()
    try:
        stack.up()
    except RuntimeError as e:
        raise AssertionError(f"{e}\n{stack.logs()}") from None
    state = stack.wait_healthy()
    TIMES[f"{name} up"] = time.monotonic() - t0
    assert set(state) == {"livekit", "socket", "caddy"}, state
    assert all(s["status"] == "running" and s["health"] in (None, "healthy") for s in state.values()), f"{state}\n{stack.logs()}"
    assert state["socket"]["health"] == "healthy"  # the app's healthcheck ran and passed
    # Through Caddy with its CA: LiveKit's "OK", the app's health and a Socket.IO polling handshake.
    lk = stack.https(livekit_host, "/")
    assert lk.returncode == 0 and lk.stdout.strip() == "OK", f"{lk.stderr}\n{stack.logs()}"
    assert stack.https(socket_host, "/health").returncode == 0
    sio = stack.https(socket_host, "/socket.io/?EIO=4&transport=polling")
    assert sio.returncode == 0 and sio.stdout.startswith("0{") and '"sid"' in sio.stdout, sio.stdout + sio.stderr
    # LiveKit found its external IP through the rig's DNS and STUN (it does not start without an
    # answer) and did not crash-loop.
    vcn = (stack.engine.root / "vcn.log").read_text()
    assert "DNS stun.l.google.com 1 udp" in vcn and "STUN 10.78.0.2:" in vcn, vcn[-2000:]
    assert state["livekit"]["restarts"] == 0
    TIMES[f"{name} total"] = time.monotonic() - t0
    return state


def test_sample_app_up_healthy_and_answering_through_caddy(engine: Engine, tmp_path: Path) -> None:
    stack = _run_variant(engine, tmp_path, "sample", {"domains": DOMAINS})
    try:
        _up_and_check(stack, "sample", SOCKET, LIVEKIT)
        # The app was built by compose from the generated Dockerfile, as the server builds it.
        built = engine.docker(["image", "inspect", "flowstack-flowspace-sample:local", "--format", "{{.Config.User}} {{.Config.Cmd}}"]).stdout
        assert built.strip() == "node [node server.js]"
    finally:
        stack.down()


def test_no_domain_sslip_names(engine: Engine, tmp_path: Path) -> None:
    stack = _run_variant(engine, tmp_path, "sslip", {"domains": {"mode": "auto"}})
    ip = "10-78-0-2"
    # What the boot step writes from the instance's public IP (here the server's address).
    (engine.opt / "hostnames.env").write_text(f"PUBLIC_IP=10.78.0.2\nSOCKET_HOST=socket.{ip}.sslip.io\nLIVEKIT_HOST=livekit.{ip}.sslip.io\n")
    try:
        _up_and_check(stack, "sslip", f"socket.{ip}.sslip.io", f"livekit.{ip}.sslip.io")
    finally:
        stack.down()


def test_extra_ports(engine: Engine, tmp_path: Path) -> None:
    doc = {"domains": DOMAINS, "extra_ports": [{"port": 8443, "protocol": "tcp", "reason": "admin"}]}
    stack = _run_variant(engine, tmp_path, "extra", doc)
    try:
        _up_and_check(stack, "extra-ports", SOCKET, LIVEKIT)
    finally:
        stack.down()


def _origin_cert(tmp: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and an "origin certificate" for both names (Cloudflare's origin CA stands here)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rig origin CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2)).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flow-coder.com")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(SOCKET), x509.DNSName(LIVEKIT)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp / "ca.pem", tmp / "origin.pem", tmp / "origin-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def test_cloudflare_origin_certificate(engine: Engine, tmp_path: Path) -> None:
    import base64

    ca, cert, key = _origin_cert(tmp_path)
    extra = ("--var", f"tls_origin_certificate_b64={base64.b64encode(cert.read_bytes()).decode()}",
             "--var", f"tls_origin_private_key_b64={base64.b64encode(key.read_bytes()).decode()}")
    stack = _run_variant(engine, tmp_path, "cloudflare", {"domains": DOMAINS, "tls": {"mode": "cloudflare_origin"}}, *extra)
    try:
        stack.up()
        state = stack.wait_healthy()
        assert all(s["status"] == "running" and s["health"] in (None, "healthy") for s in state.values()), f"{state}\n{stack.logs()}"
        lk = stack.https(LIVEKIT, "/", cacert=ca)
        assert lk.returncode == 0 and lk.stdout.strip() == "OK", f"{lk.stderr}\n{stack.logs()}"
        assert stack.https(SOCKET, "/health", cacert=ca).returncode == 0
    finally:
        stack.down()


def test_turn_tls_through_caddy_layer4(engine: Engine, tmp_path: Path) -> None:
    doc = {"domains": DOMAINS | {"turn_host": TURN}, "livekit": {"turn": {"tls_port": 5349, "via_caddy": True}}}
    stack = _run_variant(engine, tmp_path, "via-caddy", doc)
    try:
        _up_and_check(stack, "turn-via-caddy", SOCKET, LIVEKIT)
        # TURN/TLS: Caddy's layer4 terminates TLS for the TURN name on 443 (its certificate, checked
        # against its CA) and passes the stream to LiveKit's TURN port: a STUN Binding request
        # sent inside that TLS stream gets LiveKit's Binding success response.
        p = engine.machine([sys.executable, "-c", STUN_OVER_TLS, TURN, str(stack.ca())], check=False, timeout=60)
        assert p.returncode == 0 and p.stdout.strip() == "binding-success", p.stdout + p.stderr + stack.logs()
    finally:
        stack.down()


def test_without_a_stun_answer_livekit_does_not_come_up(engine: Engine, tmp_path: Path) -> None:
    """Negative control for the checks above: with the rig's STUN dropped, LiveKit cannot resolve its
    external IP and does not stay up (issue 20 defect 1's window), so "running, no restart" can fail."""
    stack = _run_variant(engine, tmp_path, "nostun", {"domains": DOMAINS})
    drop = ["INPUT", "-p", "udp", "--dport", "19302", "-j", "DROP"]
    engine.netns_run(engine.vcn, ["iptables", "-I", *drop])
    try:
        stack.compose("up", "-d", "--no-deps", "livekit", timeout=300)
        deadline, state = time.monotonic() + 120, {}
        while time.monotonic() < deadline:
            state = stack.health().get("livekit", {})
            if state.get("restarts", 0) > 0 or state.get("status") in ("restarting", "exited"):
                break
            time.sleep(2)
        assert state.get("restarts", 0) > 0 or state.get("status") in ("restarting", "exited"), state
        assert "external IP" in stack.compose("logs", "--no-color", "livekit", timeout=60).stdout
    finally:
        engine.netns_run(engine.vcn, ["iptables", "-D", *drop])
        stack.down()
