"""The VM rig's parts that run without a VM (fast): the IMDS instance document, the registry,
the apt proxy's shim repository, the firewall-order check and the bring-up log parser the VM
tests rely on. Each check is shown failing too. Real servers on 127.0.0.1, no network."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from imds_server import make_handler
from rig.apt_proxy import Proxy, handler
from rig.images import Store
from rig.vm_rig import timeline
from rig.vm_services import Files, registry_handler
from test_vm_boot import opened_before_reject


@contextmanager
def serve(h: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), h)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def test_imds_instance_document_needs_the_bearer_header(tmp_path: Path) -> None:
    keys = tmp_path / "imds"
    keys.mkdir()
    (keys / "user_data").write_text("I2Nsb3VkLWNvbmZpZw==", encoding="utf-8")
    (tmp_path / "instance.json").write_text(json.dumps({"id": "ocid1.instance.x", "metadata": {}}), encoding="utf-8")
    h = make_handler(str(keys), str(tmp_path / "log"), str(tmp_path / "instance.json"))
    with serve(h) as url:
        status, body, _ = get(f"{url}/opc/v2/instance/", {"Authorization": "Bearer Oracle"})
        assert status == 200 and json.loads(body)["metadata"]["user_data"] == "I2Nsb3VkLWNvbmZpZw=="
        assert get(f"{url}/opc/v2/instance/")[0] == 401
        assert get(f"{url}/opc/v1/instance/", {"Authorization": "Bearer Oracle"})[0] == 404


def test_registry_serves_a_store_by_tag_and_digest(tmp_path: Path) -> None:
    digest = Store(tmp_path / "store").add("library/x", "1", {}, {"Cmd": ["x"]}, text={"/hello": "hi\n"})
    with serve(registry_handler(tmp_path / "store", type("B", (Files,), {"log": str(tmp_path / "log"), "fail_once": set(), "state": str(tmp_path)}))) as url:
        assert get(f"{url}/v2/")[0] == 200
        status, body, headers = get(f"{url}/v2/library/x/manifests/1")
        assert status == 200 and headers["Docker-Content-Digest"] == digest == "sha256:" + hashlib.sha256(body).hexdigest()
        layer = json.loads(body)["layers"][0]["digest"]
        status, blob, _ = get(f"{url}/v2/library/x/blobs/{layer}")
        assert status == 200 and "sha256:" + hashlib.sha256(blob).hexdigest() == layer
        assert get(f"{url}/v2/library/x/manifests/2")[0] == 404
        assert get(f"{url}/v2/library/x/blobs/sha256:{'0' * 64}")[0] == 404


def test_apt_proxy_serves_the_shim_and_nothing_outside_it(tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "Packages").write_text("Package: docker-compose-v2\n", encoding="utf-8")
    (tmp_path / "secret").write_text("no", encoding="utf-8")
    with serve(handler(Proxy(str(tmp_path / "cache"), str(shim), 60, str(tmp_path / "log"), None))) as url:
        assert get(f"{url}/shim/Packages")[1] == b"Package: docker-compose-v2\n"
        assert get(f"{url}/shim/../secret")[0] == 404
        assert get(f"{url}/elsewhere/x")[0] == 404


def test_firewall_order_check() -> None:
    jump = ["-A INPUT -j FLOWSTACK-INPUT", "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
            "-A FLOWSTACK-INPUT -p tcp -m tcp --dport 443 -j ACCEPT"]
    assert opened_before_reject(jump, "443")
    assert not opened_before_reject(jump, "80")
    after = ["-A INPUT -j REJECT --reject-with icmp-host-prohibited", "-A INPUT -p tcp -m tcp --dport 443 -j ACCEPT"]
    assert not opened_before_reject(after, "443")


@pytest.mark.parametrize("line,count", [("flowstack: 2026-01-01T00:00:00Z 1/8 write", 1), ("noise", 0)])
def test_timeline(line: str, count: int) -> None:
    assert len(timeline(line)) == count
