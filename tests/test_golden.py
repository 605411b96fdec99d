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
REFERENCE_ZIP_SHA256 = "b5e89cfb1545d8f17b4dd4c0bf5c8db5363208dd6a067676a237d8c88ebb2e29"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "6f3f2055d96b02c7d21966c85859542426bb5b70251970b11bb52bb710f23c7c",
    "tls-internal": "67312466475dc452a27b7289dda030b7d2e4fb5dd348037372b1f04564448a58",
    "tls-cloudflare-origin": "c5b1f3a9087702e81cb989ba8a8ed5e81e7215feec187cd7ec07ce92cd129f66",
    "socket-image": "3a1751d8d8d5a7910debd6a08c81e56ed431ef5638420dd1383dad2c9c8f48ea",
    "turn-via-caddy": "2cee592763ae7d83864effa1d7145971a9dbeb89632a3c3ed4412392cf7de3cf",
    "turn-via-caddy-internal": "7a4603fd7778baa5cb70805b7c87c4e8b833c2ac929aef5b76d89a5bb99088a4",
    "socket-git-url": "31b2274e07d5dd9134a21be5ff23200b7f13945d8cb51c4bc88b4b873b45f262",
    "secret-env": "164d621ed12530427206cd9c9abd2e64c4fecf26332cf52b68659cc497198ce9",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "a7dc3d2c2056cb4cf594d2789f03928c5ac157c1f2ea6b4fcdc830f5cd01e3a2",
    "tls-internal": "23533dbaa2b91870e9deee831bbd760e9c8d67fc90f98a72bbef188bce84584f",
    "tls-cloudflare-origin": "bff58004ee9a24522ff4aa91d6c6b8324cc5c20ecf21c0665734a0b51b4fc099",
    "socket-image": "19838f4a40cf8148a796b069a0ab5651165f48977a7fcbcf60923d9531ba5f9b",
    "turn-via-caddy": "8797d1d43db838c20b2687d95c2516990c52a962616094b17f746dfcd9e13f01",
    "turn-via-caddy-internal": "363690ec3a120c9841f4ba4c804647f33d880b8f7c1f64dbefed7b7dbe3b8801",
    "socket-git-url": "3c83a85aedbe1800f51d0737a7145abe6957be500c34dafe9bee5065f1835913",
    "secret-env": "cc528e90996dd76d6f70c556dfd4d289df7a8b3a8f86b1df445f3cd4d3c523fc",
}
ALERT_SHA256 = {
    "budget": "88597def8e0adfe90662401915b290f5a17b8d7af496f73d2855e9f7d417df87",
    "alarm": "adec51c86dc7a378b0a9efe707bdbb809bb79faf15c02b9e387af95bc3433c13",
    "alarm+slack": "1a6568c7ff3a15970a68d72d37bfa36725c31e14503810b3a7c05b7bde93b94b",
    "both": "fa0dcc6110fa570cf196b6382d9b87a7e77d9a312188227d0b8dc38e049cb8c2",
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
