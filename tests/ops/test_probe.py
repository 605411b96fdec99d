"""The doctor's probes on loopback: a closed port, a real TLS server with a test CA, HTTP parsing."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from rig_doctor import TestCA as RigCA

from generator.core.errors import FlowstackError
from generator.ops import doctor, probe


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_tls_to_a_closed_port_is_a_result_not_a_crash() -> None:
    result = probe.tls(probe.Target(timeout=1), "a.example", "127.0.0.1", closed_port())
    assert result.cert is None and "Connection refused" in (result.error or "")


def test_tls_reads_issuer_and_names_and_checks_the_host(tmp_path: Path) -> None:
    ca = RigCA()
    cert, key = ca.leaf(["a.example"])
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    (tmp_path / "ca.pem").write_bytes(ca.pem())
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            try:
                ctx.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    trusted = probe.Target(ca_file=str(tmp_path / "ca.pem"), timeout=2)
    ok = probe.tls(trusted, "a.example", "127.0.0.1", port)
    assert ok.error is None and ok.cert and ok.cert.issuer == "flowstack rig CA" and ok.cert.names == ("a.example",)
    wrong = probe.tls(trusted, "b.example", "127.0.0.1", port)
    assert "Hostname mismatch" in (wrong.error or "") and wrong.cert and wrong.cert.names == ("a.example",)
    untrusted = probe.tls(probe.Target(timeout=2), "a.example", "127.0.0.1", port)
    assert "unable to get local issuer certificate" in (untrusted.error or "")
    server.close()


def test_parse_response_and_chunked_bodies() -> None:
    r = probe.parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n0{\"\r\n2\r\nsi\r\n0\r\n\r\n", "x")
    assert r.status == 200 and r.body == b'0{"si'
    with pytest.raises(probe.ProbeError, match="not an HTTP answer"):
        probe.parse_response(b"SSH-2.0-OpenSSH_9\r\n", "x:80")


def test_resolve_overrides_are_checked() -> None:
    assert probe.parse_resolve(["A.example=10.78.0.2"]) == {"a.example": "10.78.0.2"}
    for bad in ("a.example", "a.example=not-an-ip", "=10.0.0.1", "a.example=10.0.0"):
        with pytest.raises(FlowstackError, match="HOST=IPV4"):
            probe.parse_resolve([bad])


def test_closed_ice_port_row_has_its_fix() -> None:
    """A refused connection means nothing listens (no firewall answered): the fix is to start
    the service, not to open a port (issue 22; the timeout case is in test_doctor_fixes)."""
    row = doctor.check_tcp(probe.Target(timeout=1), "127.0.0.1", closed_port(), "ICE/TCP")
    assert row.status == "FAIL" and row.fix.startswith("nothing listens on ") and "security list" not in row.fix
