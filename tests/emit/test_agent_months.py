"""Issue 21 items 4, 5, 9 and 2 (readiness): the config agent over months.

The same sandbox as tests/emit/test_agent_sandbox.py (its Server): the shipped agent script run by
python3 in a network namespace against tests/imds_server.py on 169.254.169.254, writing into a
temp root (FLOWSTACK_ROOT). Replaced, because no Docker engine runs in the fast suite (the
enginerig/vmrig tests run the real one): `docker` by a recorder executable that logs each call,
fails the calls named in $FAIL_ON (as a failed build or `up` fails), answers `compose ps -q`
and `inspect` from files the test writes (as the engine reports health); the clock by
FLOWSTACK_AGENT_CLOCK. The TLS handshake of `--ready` is real: a Python TLS server inside the
namespace with a certificate from a test CA, trusted through SSL_CERT_FILE (on a server: the
system store).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import test_agent_sandbox
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_agent_sandbox import DOCKER, Server, _bundle, _first_boot

from generator.core.contract import AGENT_SETTINGS, AGENT_STATE_DIR, COMPOSE_FILE, LIVEKIT_CONFIG

server = test_agent_sandbox.server
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2")

RECORDER = DOCKER.replace('echo "docker $*" >> "$CALLS"\n', '''echo "docker $*" >> "$CALLS"
case "$*" in *"$FAIL_ON"*) [ -n "$FAIL_ON" ] && { echo "failed (injected): $*" >&2; exit 1; } ;; esac
case "$*" in *" ps -a -q") cat "$PS_IDS" 2>/dev/null; exit 0 ;; esac
[ "$1" = inspect ] && { cat "$INSPECT"; exit 0; }
''')
RECREATE_LIVEKIT = f"docker compose -f {COMPOSE_FILE} up -d --no-deps --force-recreate livekit"


def _recorder(server: Server) -> None:
    (server.tmp / "bin" / "docker").write_text(RECORDER)


def _attempts(server: Server) -> dict | None:
    path = server.root / AGENT_STATE_DIR.lstrip("/") / "attempts.json"
    return json.loads(path.read_text()) if path.exists() else None


def _env(server: Server, fail: str = "") -> dict[str, str]:
    return {"FAIL_ON": fail, "PS_IDS": str(server.tmp / "ps"), "INSPECT": str(server.tmp / "inspect.json")}


def test_a_failed_change_is_rolled_back_and_backs_off(server: Server) -> None:
    """f81956f left the new files on disk after a failed recreate (the next reboot starts an
    untested config) and retried every 2 minutes forever. Now: the old files come back, the
    attempt is recorded, retries wait 2, 4, ... minutes, and status.json says when."""
    _recorder(server)
    _first_boot(server)
    old = server.file(LIVEKIT_CONFIG)
    server.serve(_bundle(livekit_api_key="APIBroken"))
    r, calls = server.agent(clock="2026-12-07T10:00", extra=_env(server, fail="--force-recreate livekit"))
    assert r.returncode == 1
    assert server.file(LIVEKIT_CONFIG) == old  # rolled back
    st = server.status()
    assert st["state"] == "error" and st["attempts"]["attempts"] == 1 and st["next_try"] == "2026-12-07T10:02:00"
    assert "rolled back" in server.log() and "next try 2026-12-07T10:02:00" in server.log()
    # The old containers come back with the old files (the failed recreate is re-run on them).
    assert calls[-2:] == [f"docker compose -f {COMPOSE_FILE} up -d --remove-orphans", RECREATE_LIVEKIT]
    # Inside the back-off: nothing runs, the status says when the next try is.
    r, calls = server.agent(clock="2026-12-07T10:01", extra=_env(server, fail="--force-recreate livekit"))
    assert r.returncode == 0 and calls == [] and server.status()["state"] == "backoff"
    # The second failure doubles the wait; the third try (no failure now) applies.
    r, calls = server.agent(clock="2026-12-07T10:02", extra=_env(server, fail="--force-recreate livekit"))
    assert _attempts(server)["attempts"] == 2 and _attempts(server)["next_try"] == "2026-12-07T10:06:00"
    r, calls = server.agent(clock="2026-12-07T10:05", extra=_env(server))
    assert calls == []
    r, calls = server.agent(clock="2026-12-07T10:06", extra=_env(server))
    assert r.returncode == 0 and server.status()["state"] == "applied" and b"APIBroken" in server.file(LIVEKIT_CONFIG)
    assert _attempts(server) is None
    assert server.status()["last_change"]["attempts"] == 3 and server.status()["last_change"]["services"] == ["livekit"]


def test_the_back_off_is_capped() -> None:
    """Doubling stops at the cap of data/server.yaml (6 h)."""
    from agent_support import load_agent

    agent = load_agent(Path(os.environ.get("TMPDIR", "/tmp")))
    settings = {"backoff_base_seconds": 120, "backoff_cap_seconds": 21600}
    seen = []
    record: dict = {}
    os.environ["FLOWSTACK_AGENT_CLOCK"] = "2026-12-07T10:00"
    try:
        import tempfile

        with tempfile.TemporaryDirectory() as state:
            for _ in range(12):
                record = agent.failed_attempt(settings, state, "d", record, "x")
                seen.append(record["next_try"])
    finally:
        del os.environ["FLOWSTACK_AGENT_CLOCK"]
    assert seen[0] == "2026-12-07T10:02:00" and seen[1] == "2026-12-07T10:04:00"
    assert seen[-1] == "2026-12-07T16:00:00" and seen[-2] == "2026-12-07T16:00:00"


def test_a_change_that_failed_in_its_quiet_hour_waits_for_the_next_one(server: Server) -> None:
    """apply_at 03:00: a failure at 03:00 is retried inside the hour's window; once the window is
    over, the change waits for the next day's 03:00 instead of recreating LiveKit at noon."""
    _recorder(server)
    _first_boot(server)
    server.serve(_bundle(apply_at="03:00", livekit_api_key="APILate"))
    r, calls = server.agent(clock="2026-12-07T03:00", extra=_env(server, fail="--force-recreate livekit"))
    assert r.returncode == 1 and server.status()["state"] == "error"
    r, calls = server.agent(clock="2026-12-07T03:02", extra=_env(server, fail="--force-recreate livekit"))
    assert RECREATE_LIVEKIT in calls  # retried inside the window
    r, calls = server.agent(clock="2026-12-07T12:00", extra=_env(server))
    assert calls == [] and server.status()["state"] == "pending" and server.status()["pending_until"] == "2026-12-08 03:00"
    r, calls = server.agent(clock="2026-12-08T03:01", extra=_env(server))
    assert r.returncode == 0 and server.status()["state"] == "applied"


def test_prune_weekly_and_over_the_disk_share(server: Server) -> None:
    """`--prune` (the weekly timer): dangling images and build cache; every unused image once the
    disk is over its share (set to 0 % here, so the sandbox's disk is "over"). status.json has
    the disk use."""
    _recorder(server)
    _first_boot(server)
    r, calls = server.agent("--prune", extra=_env(server))
    assert r.returncode == 0 and calls == ["docker image prune -f", "docker builder prune -f"]
    disk = server.status()["disk"]
    assert 0 < disk["used_pct"] <= 100 and disk["prune_above_pct"] == 70
    settings_path = server.root / AGENT_SETTINGS.lstrip("/")
    settings = json.loads(settings_path.read_text())
    settings_path.write_text(json.dumps({**settings, "prune_above_pct": 0}))
    r, calls = server.agent("--prune", extra=_env(server))
    assert calls == ["docker image prune -a -f", "docker builder prune -a -f"]
    assert "all unused: over 0%" in server.log()


def _ca_and_leaf(tmp: Path, host: str) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test ACME CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(2).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=6))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=True).sign(ca_key, hashes.SHA256()))
    paths = tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


_TLS_SERVER = r"""
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 8443)); s.listen()
open(sys.argv[3], "w").close()
while True:
    c, _ = s.accept()
    try:
        ctx.wrap_socket(c, server_side=True).close()
    except (OSError, ssl.SSLError):
        c.close()
"""


def test_ready_needs_every_service_healthy_and_a_verified_certificate_per_name(server: Server) -> None:
    """`ready` on f81956f was the app answering on 127.0.0.1. Now: every compose service healthy
    AND a TLS handshake on 443 (8443 here) whose certificate verifies for each public name."""
    _recorder(server)
    ca, leaf, key = _ca_and_leaf(server.tmp, "app.example.test")
    up = server.tmp / "tls-up"
    proc = subprocess.Popen(["ip", "netns", "exec", server.ns, sys.executable, "-c", _TLS_SERVER, str(leaf), str(key), str(up)])
    try:
        for _ in range(100):
            if up.exists():
                break
            subprocess.run(["sleep", "0.1"], check=True)
        (server.tmp / "ps").write_text("c1\nc2\nc3\n")

        def inspect(health: dict[str, str]) -> None:
            (server.tmp / "inspect.json").write_text(json.dumps([
                {"Config": {"Labels": {"com.docker.compose.service": n}}, "State": {"Status": "running", "Health": {"Status": h}}}
                for n, h in health.items()]))

        env = {**_env(server), "FLOWSTACK_HTTPS_PORT": "8443", "SSL_CERT_FILE": str(ca)}
        inspect({"livekit": "starting", "socket": "healthy", "caddy": "healthy"})
        r, _ = server.agent("--ready", "acme", "app.example.test", extra=env)
        assert r.returncode == 1 and "not ready: livekit is starting" in r.stdout
        inspect({"livekit": "healthy", "socket": "healthy", "caddy": "healthy"})
        r, _ = server.agent("--ready", "acme", "app.example.test", extra={**env, "SSL_CERT_FILE": str(leaf)})  # CA not trusted
        assert r.returncode == 1 and "HTTPS for app.example.test" in r.stdout and "CERTIFICATE_VERIFY_FAILED" in r.stdout
        r, _ = server.agent("--ready", "acme", "other.example.test", extra=env)  # a name the certificate is not for
        assert r.returncode == 1 and "HTTPS for other.example.test" in r.stdout
        r, _ = server.agent("--ready", "acme", "app.example.test", extra=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("ready: app.example.test (Test ACME CA, until ")
        # tls.mode internal: Caddy's own CA, from its storage (caddy.json's layout: /data/pki/...).
        local = server.root / "opt/flowstack/caddy-data/pki/authorities/local/root.crt"
        local.parent.mkdir(parents=True)
        local.write_bytes(ca.read_bytes())
        r, _ = server.agent("--ready", "internal", "app.example.test", extra={**env, "SSL_CERT_FILE": str(leaf)})
        assert r.returncode == 0 and "(Test ACME CA, until" in r.stdout, r.stdout + r.stderr
        r, _ = server.agent("--ready", "acme", "app.example.test", extra=env)
        ready = json.loads((server.root / AGENT_STATE_DIR.lstrip("/") / "ready.json").read_text())
        assert ready["problems"] == [] and ready["certificates"]["app.example.test"]["issuer"] == "Test ACME CA"
    finally:
        proc.kill()
        proc.wait(10)
    assert ssl.OPENSSL_VERSION  # the handshakes above were OpenSSL's, as on the server
