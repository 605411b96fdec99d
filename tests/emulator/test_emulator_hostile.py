"""Issue 13.13: the emulator as a server facing hostile clients.

Real HTTP against a real emulator (in-process server or the `flowstack emulator` subprocess),
real OCI signatures through the SDK's signer. Each bound is shown failing on the other side of
its limit (the accepted neighbour), and the pre-fix behaviour is named in each docstring.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import oci
import pytest
import requests

from generator.emulator.auth import write_demo_credentials
from generator.emulator.errors import FaultsError
from generator.emulator.faults import validate
from generator.emulator.limits import MAX_INFLATED_BYTES, MAX_JSON_DEPTH, is_loopback, json_depth, parse_json
from generator.emulator.server import build_emulator

# End to end: a real emulator server under hostile clients (real sockets, slowloris timeouts). The slow suite runs it (make test); make test-fast skips it.
pytestmark = pytest.mark.slow


def admin(url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("body", [b'{"job_seconds": Infinity}', b'{"job_seconds": NaN}', b'{"job_seconds": -Infinity}',
                                  b'{"job_seconds": 1e400}', b'{"job_seconds": -1}', b'{"job_seconds": 100000}',
                                  b'{"slow_next": {"seconds": 1e12}}', b'{"running_job": {"seconds": Infinity}}',
                                  b'{"capacity_fail_ads": [4]}', b'{"capacity_fail_ads": [0]}', b'{"capacity_fail_count": 10000000000}',
                                  b'{"status_429": {"count": 1e3}}', b'{"fail_next": {"count": true}}'])
def test_faults_refuse_non_finite_and_out_of_range(rm_emulator, body: bytes) -> None:
    """Before: Infinity was accepted (a job that never ends), AD 4 and 10**10 too."""
    status, data = admin(rm_emulator.url, "POST", "/_emulator/faults", body, JSON)
    assert status == 400 and data["code"] == "InvalidParameter", data
    assert admin(rm_emulator.url, "GET", "/_emulator/faults")[1] == {}


@pytest.mark.parametrize("spec", [{"job_seconds": 0}, {"job_seconds": 86400}, {"capacity_fail_ads": [1, 2, 3]}, {"capacity_fail_count": 5}])
def test_faults_in_range_are_accepted(rm_emulator, spec: dict[str, Any]) -> None:
    assert admin(rm_emulator.url, "POST", "/_emulator/faults", json.dumps(spec).encode(), JSON)[0] == 200


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -0.5, 1e9])
def test_faults_file_values_checked_too(value: float) -> None:
    with pytest.raises(FaultsError):
        validate({"job_seconds": value})


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_deep_json_is_a_400_not_a_crash(rm_emulator, depth: int) -> None:
    """Before: 100,000 nested brackets raised RecursionError inside the server (a 500)."""
    status, data = admin(rm_emulator.url, "POST", "/_emulator/faults", b"[" * depth + b"]" * depth, JSON)
    assert status == 400 and "deeper" in data["message"]


def test_json_depth_counts_outside_strings_only() -> None:
    assert json_depth('"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["') == 0
    assert parse_json(json.dumps({"a": "[" * 100}).encode()) == {"a": "[" * 100}
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None


@pytest.mark.parametrize("length", ["10000000000", "33554433", "-5", "abc"])
def test_content_length_is_checked_before_reading(rm_emulator, length: str) -> None:
    """The server answers from the header alone; it never waits for (or buffers) the body."""
    host, port = "127.0.0.1", rm_emulator.port
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(f"POST /20180917/stacks HTTP/1.1\r\nHost: x\r\ncontent-length: {length}\r\n\r\n".encode())
        answer = s.recv(4096).decode()
    assert answer.split()[1] in ("413", "400"), answer


def signed_session(emulator) -> requests.Session:
    config = dict(emulator.config)
    signer = oci.signer.Signer(config["tenancy"], config["user"], config["fingerprint"], config["key_file"])
    s = requests.Session()
    s.auth = signer
    return s


def bomb(inflated: int, members: int = 1) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(members):
            z.writestr(f"f{i}.tf", b"\0" * (inflated // members))
    return buf.getvalue()


@pytest.mark.parametrize(("inflated", "members"), [(MAX_INFLATED_BYTES + 1, 1), (200 * 2**20, 4), (1000, 5000)])
def test_zip_bombs_are_refused(rm_emulator, inflated: int, members: int) -> None:
    """Before: a 408 KB zip inflating to 400 MB took 1.3 GB of memory in the job."""
    from oci.resource_manager import models

    data = bomb(inflated, members)
    assert len(data) < 1_000_000
    details = models.CreateStackDetails(compartment_id=rm_emulator.compartment_id, config_source=models.CreateZipUploadConfigSourceDetails(
        zip_file_base64_encoded=base64.b64encode(data).decode()))
    with pytest.raises(oci.exceptions.ServiceError) as info:
        rm_emulator.client().create_stack(details)
    msg = info.value.message
    assert info.value.status == 400 and ("inflates to more than" in msg or "members" in msg), msg


def test_normal_zip_is_accepted(rm_emulator, rm_stack_zip) -> None:
    from oci.resource_manager import models

    details = models.CreateStackDetails(compartment_id=rm_emulator.compartment_id, config_source=models.CreateZipUploadConfigSourceDetails(
        zip_file_base64_encoded=base64.b64encode(rm_stack_zip()).decode()))
    assert rm_emulator.client().create_stack(details).data.id


@pytest.mark.parametrize(("method", "path", "headers"), [
    ("POST", "/_emulator/faults", {"content-type": "text/plain"}),
    ("POST", "/_emulator/faults", {"content-type": "application/x-www-form-urlencoded"}),
    ("POST", "/_emulator/faults", {}),
    ("POST", "/_emulator/faults", {"content-type": "application/json", "origin": "https://evil.example"}),
    ("DELETE", "/_emulator/stats", {}),
    ("GET", "/_emulator/stats", {"origin": "http://localhost:3000"}),
    ("GET", "/_emulator/faults", {"sec-fetch-site": "cross-site"}),
])
def test_admin_refuses_browser_cross_origin_requests(rm_emulator, method: str, path: str, headers: dict[str, str]) -> None:
    """Before: a web page's form POST (text/plain, no preflight) could set faults."""
    rm_emulator.set_faults(job_seconds=1)
    status, data = admin(rm_emulator.url, method, path, b'{"job_seconds": 9}' if method == "POST" else None, headers)
    assert status == 403 and data["code"] == "NotAllowed", data
    assert rm_emulator.faults() == {"job_seconds": 1.0}


@pytest.mark.parametrize("headers", [JSON, {"x-flowstack-emulator": "1", "content-type": "text/plain"}, {**JSON, "sec-fetch-site": "same-origin"}])
def test_admin_accepts_scripts(rm_emulator, headers: dict[str, str]) -> None:
    status, _ = admin(rm_emulator.url, "POST", "/_emulator/faults", b'{"job_seconds": 2}', headers)
    assert status == 200 and rm_emulator.faults() == {"job_seconds": 2.0}


@pytest.mark.parametrize(("client", "ok"), [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
                                             ("::ffff:127.1.2.3", True), ("::ffff:10.0.0.1", False), ("10.0.0.1", False),
                                             ("fe80::1%eth0", False), ("not-an-ip", False), ("::", False)])
def test_loopback(client: str, ok: bool) -> None:
    assert is_loopback(client) is ok


def test_ipv4_mapped_loopback_client_reaches_admin() -> None:
    """A dual-stack listener sees 127.0.0.1 as ::ffff:127.0.0.1; before, that client got 403."""
    d = Path(tempfile.mkdtemp())
    creds = write_demo_credentials(d / "oci")
    try:
        server = build_emulator(state_file=str(d / "s.json"), public_keys=[str(creds.public_key_file)], host="::ffff:127.0.0.1", log=None).start()
    except OSError as exc:
        pytest.skip(f"no IPv4-mapped IPv6 listener here: {exc}")
    try:
        assert admin(f"http://127.0.0.1:{server.port}", "GET", "/_emulator/health")[0] == 200
    finally:
        server.stop()
