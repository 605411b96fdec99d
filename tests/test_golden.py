"""Golden bytes: the reference zip and every variant's rendered stack, pinned by sha256.

Pinned before the package was re-layered (issue 9) so the move provably changes no output
byte. A change that alters output on purpose updates the digest here in the same commit and
says why in its message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_alerts import MODES, ON, render
from test_server_files import VARIANTS
from variants import make_config

from generator.cli import cli
from generator.preview import preview_files
from generator.render import render_stack

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_ZIP_SHA256 = "3be5af7c311a81d7389e488342127015a2505c32e72c8ab799edb978914efbff"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "ebbb86b8e203beb83db92ef4dc89746e196f7f857e54a24531435aefd0b6826a",
    "tls-internal": "1515dfbb2f5931fbe3a4370ade5b5f51fb8601877d9cf7d29927c53866506f4f",
    "tls-cloudflare-origin": "56cbf51a3cdd4417ccc73b22278487bba59d20faa5bc8b611bf725c625c2c791",
    "socket-image": "92db77c70f34ebd7a031adcc5e2b02264cf7b33fa17ce8cf4796f1f43cc64325",
    "turn-via-caddy": "0bd77bf9fc97c2f75b585df030d35cbb8da09f1784e208ae7604a941ce19156d",
    "turn-via-caddy-internal": "20c65505191accaf16a01708c039853b89a6b9d82c3a79d7bdf3007bf2a75822",
    "socket-git-url": "a8e4a45f10df21ebcbbac84103e70b69a8d190db2e37952f7393191525d17c2a",
    "ephemeral-ip": "cb52ee82077b324ca98dde2f64aeb51f1ba17582c2e2142a13b1e3ba75fd143a",
    "secret-env": "88940f1eef9d021c963dea906cc7fc53237364b98e824be3e412c28c2e2f310b",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "a25acc42537e004f85908faf0bcf7aa5d393809ef956911ba2b4b7f69dcc8841",
    "tls-internal": "e1e3ea822af5b7480e0ca29b3335f0f3c448812ff94494f952fa8aeab747f2f1",
    "tls-cloudflare-origin": "88f2170101f8e5874076099591bb154d039148fa8685b4db6a51af51771ab087",
    "socket-image": "fcbcb986214dfc212de23a17924f46ca9ac4262e5aabc599379169b864641535",
    "turn-via-caddy": "3d4ffe50e9d7b4fa8391a31ddece6387fcf640b16bfb57d0f85464d0318aaa3c",
    "turn-via-caddy-internal": "bc8a4653fae0a8ba02c5c6877eae393ca21b6905ec27a31f997700dbab906aca",
    "socket-git-url": "afab0bef6993546c5c925c8ccf2ffc15402e71a1811a235aef2181c31cd3853e",
    "ephemeral-ip": "a25acc42537e004f85908faf0bcf7aa5d393809ef956911ba2b4b7f69dcc8841",
    "secret-env": "fe07dff20d8acf3d66afd1d0889cdfdbf860db6c6e3fca600ae943b38d8ef90d",
}
ALERT_SHA256 = {
    "budget": "2458df6c6648c04b28ee8d9bc5928f5f6d4352591c9149bf8b28b4ec8d254178",
    "alarm": "e06b15a88cf37f8d409f3bba90751e577a07c7475b7cd02d6f110b5262bf2dbc",
    "alarm+slack": "aed4cc4294087595caf95ff572953f1fe8a412e955d722ea3c319da7f636f738",
    "both": "8cf08132441d3d9a951fc4804b67f59f15bdafadddcc55961928657341947d9d",
}


def digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name, data in files.items():
        h.update(name.encode() + b"\0" + data + b"\0")
    return h.hexdigest()


def test_reference_zip_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "ref.zip"
    r = CliRunner().invoke(cli, ["zip", str(ROOT / "stacks" / "flowspace.yaml"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() == REFERENCE_ZIP_SHA256


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_stack_is_byte_identical(name: str) -> None:
    files = render_stack(make_config(VARIANTS[name]), dt.date(2026, 12, 1))
    assert digest(files) == VARIANT_SHA256.get(name), f"variant {name!r}: pin its digest {digest(files)}"


@pytest.mark.parametrize("name", MODES)
def test_alert_stack_is_byte_identical(name: str, tmp_path: Path) -> None:
    files = {k: v.encode() for k, v in render(tmp_path, MODES[name], ON).items()}
    assert digest(files) == ALERT_SHA256.get(name), f"alerts {name!r}: pin its digest {digest(files)}"


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_preview_is_byte_identical(name: str) -> None:
    files = preview_files(make_config(VARIANTS[name]), sample=True)
    assert digest(files) == PREVIEW_SHA256.get(name), f"preview {name!r}: pin its digest {digest(files)}"
