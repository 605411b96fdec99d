"""`flowstack doctor` (issue 14) against a local rig in network namespaces (tests/rig_doctor.py).

Real: Debian's Caddy with the generated Caddyfile, OCI's iptables rules with the
generated firewall script run live, the Socket.IO app (python-socketio), `flowstack
doctor` as a subprocess in a client namespace whose /etc/hosts is its DNS.
Replaced (cannot run here): LiveKit (no server binary) by stand-ins for its HTTP
endpoint, its ICE/TCP listener and a STUN Binding responder (tests/rig_services.py); the
docker volume that puts the certificates at /certs by a path in the Caddyfile.

Each broken case fails for its own reason, only its own check fails, and the check
passes again once the cause is fixed. Traffic: only 10.78.0.2/10.78.0.3 inside the
namespaces made here.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import status_seed
from rig_doctor import SERVER_IP, Rig, available

from generator.core.versions import versions
from generator.emulator.auth import write_demo_credentials
from generator.emulator.process import stop, wait_until_listening

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    reason = available()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("doctor-rig")
    config = work / "flowspace.yaml"
    text = (ROOT / "stacks" / "flowspace.yaml").read_text(encoding="utf-8")
    assert "  mode: acme" in text
    config.write_text(text.replace("  mode: acme", "  mode: cloudflare_origin"), encoding="utf-8")
    r = Rig(work, config).start()
    yield r
    r.close()


def by_check(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["check"]: row for row in rows}


def failing(rows: list[dict[str, str]]) -> list[str]:
    return [row["check"] for row in rows if row["status"] != "PASS"]


def assert_all_pass(rig: Rig) -> None:
    code, rows, err = rig.doctor()
    assert failing(rows) == [] and code == 0, (rows, err)


def test_doctor_passes_on_the_rig(rig: Rig) -> None:
    code, rows, _ = rig.doctor()
    assert code == 0 and failing(rows) == []
    checks = set(by_check(rows))
    assert {"Socket.IO polling", "Socket.IO WebSocket", "LiveKit HTTP", "ICE/TCP 7881", "TURN/UDP 3478"} <= checks
    assert sum(c.startswith("DNS ") for c in checks) == 2 and sum(c.startswith("TLS 443 ") for c in checks) == 2
    tls = by_check(rows)["TLS 443 space-socket.flow-coder.com"]
    assert "issuer flowstack rig CA" in tls["detail"] and "days left" in tls["detail"]
    assert "10.78.0.3:" in by_check(rows)["TURN/UDP 3478"]["detail"]  # the STUN answer's mapped address: the client
    text = rig.flowstack("doctor", str(rig.config_path), "--ip", SERVER_IP, "--ca-file", str(rig.ca_file)).stdout
    assert "11 checks: 11 pass, 0 warn, 0 fail" in text


def test_dns_pointing_elsewhere(rig: Rig) -> None:
    host = rig.hosts[0]
    rig.set_dns({host: "10.78.0.99", rig.hosts[1]: SERVER_IP})
    try:
        code, rows, _ = rig.doctor()
        assert code == 1 and failing(rows) == [f"DNS {host}"]
        row = by_check(rows)[f"DNS {host}"]
        assert "A 10.78.0.99, expected 10.78.0.2" in row["detail"]
        assert row["fix"] == f"set the A record of {host} to {SERVER_IP} (only that one), then wait for the TTL"
    finally:
        rig.set_dns({h: SERVER_IP for h in rig.hosts})
    assert_all_pass(rig)


@pytest.mark.parametrize(("proto", "port", "check"), [("tcp", "7881", "ICE/TCP 7881"), ("udp", "3478", "TURN/UDP 3478")])
def test_port_closed_by_the_firewall(rig: Rig, proto: str, port: str, check: str) -> None:
    # The script's own ACCEPT rule for the port, as iptables -S prints it (in its own chain, issue 21).
    rules = [ln for ln in rig.run("server", ["iptables", "-S", "FLOWSTACK-INPUT"]).stdout.splitlines()
             if f"-p {proto}" in ln and f"--dport {port} " in ln and ln.endswith("-j ACCEPT")]
    assert len(rules) == 1, rules
    rig.iptables("-D", *rules[0].split()[1:])
    try:
        code, rows, _ = rig.doctor()
        assert code == 1 and failing(rows) == [check], rows
        row = by_check(rows)[check]
        assert f"open {port}/{proto} in the security list and the host firewall" in row["fix"]
    finally:
        rig.firewall()  # re-run the generated script: it puts the rule back
    assert_all_pass(rig)


def test_wrong_certificate_host(rig: Rig) -> None:
    rig.use_certificate(["other.example.net"])
    try:
        code, rows, _ = rig.doctor()
        assert code == 1 and failing(rows) == [f"TLS 443 {h}" for h in rig.hosts]
        row = by_check(rows)[f"TLS 443 {rig.hosts[0]}"]
        assert "Hostname mismatch" in row["detail"] and "issuer flowstack rig CA" in row["detail"]
        assert row["fix"].startswith(f"the certificate is for other.example.net, not {rig.hosts[0]}")
    finally:
        rig.use_certificate(rig.hosts)
    assert_all_pass(rig)


def test_expired_certificate(rig: Rig) -> None:
    rig.use_certificate(rig.hosts, expired=True)
    try:
        code, rows, _ = rig.doctor()
        assert code == 1 and failing(rows) == [f"TLS 443 {h}" for h in rig.hosts]
        # The app checks looked past the certificate and say so.
        assert "certificate not verified: see TLS 443" in by_check(rows)["Socket.IO polling"]["detail"]
        row = by_check(rows)[f"TLS 443 {rig.hosts[0]}"]
        assert "certificate has expired" in row["detail"]
        assert row["fix"].startswith("the certificate expired on ")
    finally:
        rig.use_certificate(rig.hosts)
    assert_all_pass(rig)


def test_via_caddy_turn_host_answers_tls_on_443(rig: Rig, tmp_path: Path) -> None:
    """turn.via_caddy: the TURN host's TLS is on 443 (Caddy layer4 routes it by SNI)."""
    turn = "space-turn.flow-coder.com"
    text = rig.config_path.read_text(encoding="utf-8")
    text = text.replace("  livekit_host: space-livekit.flow-coder.com\n", f"  livekit_host: space-livekit.flow-coder.com\n  turn_host: {turn}\n")
    text = text.replace("    udp_port: 3478\n", "    udp_port: 3478\n    tls_port: 5349\n    via_caddy: true\n")
    # TURN/TLS cannot use a Cloudflare origin certificate (refused, issue 10): the doctor's config
    # says `internal`; the rig still serves the test certificates it made, which is what is probed.
    text = text.replace("  mode: cloudflare_origin", "  mode: internal")
    config = tmp_path / "via-caddy.yaml"
    config.write_text(text, encoding="utf-8")
    rig.set_dns({h: SERVER_IP for h in [*rig.hosts, turn]})
    try:
        code, rows, _ = rig.doctor_with(config)
        assert code == 1 and failing(rows) == [f"TURN/TLS 443 {turn}"], rows
        assert by_check(rows)[f"TURN/TLS 443 {turn}"]["detail"].startswith("TLS handshake failed")
        rig.use_certificate([*rig.hosts, turn], turn_site=turn)
        code, rows, _ = rig.doctor_with(config)
        assert code == 0 and failing(rows) == [], rows
        assert f"DNS {turn}" in by_check(rows)
    finally:
        rig.set_dns({h: SERVER_IP for h in rig.hosts})
        rig.use_certificate(rig.hosts)


def test_untrusted_ca_without_ca_file(rig: Rig) -> None:
    """Without --ca-file the rig's private CA is not trusted: the TLS rows say so."""
    p = rig.flowstack("doctor", str(rig.config_path), "--ip", SERVER_IP, "--timeout", "2", "--json")
    rows = json.loads(p.stdout)
    assert p.returncode == 1 and "unable to get local issuer certificate" in by_check(rows)[f"TLS 443 {rig.hosts[0]}"]["detail"]


def test_status_health_through_the_rig(rig: Rig, tmp_path: Path) -> None:
    """status's health part: the emulator and status both run in the client namespace."""
    creds = write_demo_credentials(tmp_path / "oci")
    now = dt.datetime.now(dt.timezone.utc)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(status_seed.seed(now, cpu=30, memory=40, gb_per_hour=2, public_ip=SERVER_IP)))
    em = subprocess.Popen(["ip", "netns", "exec", rig.ns["client"], sys.executable, "-m", "generator.cli", "emulator", "--port", "0",
                           "--state", str(tmp_path / "state.json"), "--public-key", str(creds.public_key_file), "--metrics", str(metrics), "--quiet"],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        url = wait_until_listening(em, timeout=20)
        p = rig.flowstack("status", str(rig.config_path), "--config-file", str(creds.config_file), "--compartment", creds.tenancy,
                          "--endpoint", url, "--ca-file", str(rig.ca_file), "--json")
        report = json.loads(p.stdout)
        health = {h["url"]: h for h in report["health"]}
        sock = health[f"https://{rig.hosts[0]}/health"]
        assert sock["ok"] and sock["status"] == 200 and sock["certificate"]["issuer"] == "flowstack rig CA"
        assert 58 <= sock["certificate"]["days_left"] <= 60 and health[f"https://{rig.hosts[1]}/"]["ok"]
        assert report["instance"]["public_ip"] == SERVER_IP and p.returncode == 0, report["problems"]
    finally:
        stop(em)


# ---------------------------------------------------------------------------
# The real LiveKit server (built by `make livekit`, version from data/versions.yaml) instead of the stand-ins.


def livekit_binary() -> Path | None:
    path = ROOT / ".tools" / f"livekit-server-{versions()['livekit_server']['version']}" / "server"
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def lk_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    reason = available()
    binary = livekit_binary()
    if reason or binary is None:
        pytest.skip(reason or "livekit-server is not built: run `make livekit-server`")
    work = tmp_path_factory.mktemp("doctor-lk-rig")
    config = work / "flowspace.yaml"
    text = (ROOT / "stacks" / "flowspace.yaml").read_text(encoding="utf-8")
    config.write_text(text.replace("  mode: acme", "  mode: cloudflare_origin"), encoding="utf-8")
    r = Rig(work, config, livekit_bin=binary).start()
    yield r
    r.close()


def test_doctor_passes_against_real_livekit(lk_rig: Rig) -> None:
    """LiveKit's own HTTP endpoint, ICE/TCP listener and TURN (which answers STUN Binding)."""
    code, rows, err = lk_rig.doctor()
    assert code == 0 and failing(rows) == [], (rows, err)
    assert by_check(rows)["LiveKit HTTP"]["detail"].startswith("200")


def test_media_joins_and_reports_udp(lk_rig: Rig) -> None:
    code, rows, err = lk_rig.doctor("--media", env={"LIVEKIT_API_SECRET": lk_rig.livekit_secret})
    media = by_check(rows)["LiveKit media"]
    assert code == 0 and media["status"] == "PASS", (media, err)
    assert "published a tone over UDP" in media["detail"]
    assert lk_rig.livekit_secret not in json.dumps(rows) + err  # the secret is never printed


def test_media_over_tcp_when_the_udp_range_is_closed(lk_rig: Rig) -> None:
    """With the media UDP range closed, the client gets ICE/TCP 7881 (or TURN), and says which.

    Closed the way OCI's security list closes it: statelessly (the generated rules are
    ``stateless = true``), here a DROP in the raw table before conntrack. Deleting the host
    firewall's ACCEPT alone is not enough: LiveKit's own connectivity checks open a
    conntrack entry that the OCI rules' ESTABLISHED accept lets the answers through.
    """
    drop = ["PREROUTING", "-p", "udp", "--dport", "50000:60000", "-j", "DROP"]
    lk_rig.iptables("-t", "raw", "-I", *drop)
    try:
        code, rows, err = lk_rig.doctor("--media", env={"LIVEKIT_API_SECRET": lk_rig.livekit_secret})
        media = by_check(rows)["LiveKit media"]
        assert media["status"] == "PASS", (media, err)
        assert "over TCP" in media["detail"] or "over RELAY" in media["detail"]
    finally:
        lk_rig.iptables("-t", "raw", "-D", *drop)


def test_media_with_a_wrong_secret_fails_with_a_fix(lk_rig: Rig) -> None:
    code, rows, _ = lk_rig.doctor("--media", env={"LIVEKIT_API_SECRET": "not-the-secret-" + "x" * 30})
    media = by_check(rows)["LiveKit media"]
    assert code == 1 and media["status"] == "FAIL" and media["fix"]
