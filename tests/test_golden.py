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
REFERENCE_ZIP_SHA256 = "c4342c60eb51ffd3bd86b13a19ec49ed9fbe4dd36812b5387ff56ef31ee31bf5"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "35384c899a25edc81897f6ca549da607388db1a9d4a3ed48b53b7b6a79e6a264",
    "tls-internal": "d159f02eb2586b530ad81271626ddcfa19df3828bccfe0934c5ee6861ff7504d",
    "tls-cloudflare-origin": "e603e400206c592cb850bd6254267ec00d291f71b60fbcb65457de9a95a9d98d",
    "socket-image": "80965ec7276099bbe5571475d031913a4fa60174895dbe0c9dc3038778e2bb3a",
    "turn-via-caddy": "87c62553cc122f910b714207e5bd4b9b9956f47bd0cf2a869bf4a3cf771c5e0e",
    "turn-via-caddy-internal": "773f4ccd7a536fdb0a4122e3b5015fec9cb79b2b7070139c59fe00d49d408c23",
    "socket-git-url": "d6bf06870f15f34395d54f293fdbc6499666ed44fb996f73de74ceff188241e2",
    "secret-env": "77ea9e1dfa1db8f2ae77489b813d802c41e9dcd7e81ca263fd7ce471f36adaea",
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
    "budget": "0614d693c641b0f82eb0872eb7a0aa13bb63b852897356bc0b61bf7c390da36e",
    "alarm": "073a17107991e0116d16b1b7526535979037433fbc9862d13bec040701ab9e5a",
    "alarm+slack": "e8291f0d9183942367f1bd11b7b3034eb8fa7a14402be0919dff0175458c9b07",
    "both": "e9f35803cdf1eca994bb6a4c9141a608d1bcaf43e4ade8f9233edaf73fd97ca0",
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
