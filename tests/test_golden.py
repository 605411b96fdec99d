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
REFERENCE_ZIP_SHA256 = "467949d0c94589804c35f92fabdd18be483276515fea91d449871f23f918b15e"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "4254123fbb74a9d630c28515f482fbafd451bdf09bcf70c23407ee3aa2153c06",
    "tls-internal": "9a2a24879f4ff9a6df7218421db7b84af27850de381062fe102db4a0ef0c8c16",
    "tls-cloudflare-origin": "ffc61e6638d847d7a8ed4acc96d4d83398c4ebd0f19175c00ccaecc35385b9dd",
    "socket-image": "5b5902f3e06b126392f751f2f330d57aed4a01e2a367a17fb1b509b3ede19090",
    "turn-via-caddy": "24f519fb6b5af5dc95136dd0af6bacdcaf0734ff96f5bcd9e0c5a8c177962f4e",
    "turn-via-caddy-internal": "148c668295b75fb520fcd3dd188072943cc34fda299e3e588a666ba66821e3dd",
    "socket-git-url": "751fb5c762eaa84dadf406569644672f6d29798bacf8f837671d2417710d59b2",
    "secret-env": "c9b4445de9d486fc8de49d8a6d3fdd49440b69bf8532b8d1afebcfac89ba6ae4",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "a7c08be3885cc9bc0fe5f0e6e6176229ff0b5446095b8b3ceeb48c33c62bfb5b",
    "tls-internal": "6de8db62518a868111c926fc2f14e79410f614c30ca5a86af7e9e7d776a1355f",
    "tls-cloudflare-origin": "8b254d529a3b22c25954de16f2726d8082f3875c53ba3a9298aeb08f33b21dd0",
    "socket-image": "70a20f846ae06c272fd42bfac033f44e6665907d9e2d1723569f0cfb91e5b847",
    "turn-via-caddy": "7ce2fcbe5601db060e5943de9d6439bb66bd9ba989c50cef5b6a840b4314062b",
    "turn-via-caddy-internal": "c8859556ef1c85577be887cf4d8278bc982f1f27a5e0810c123ce64959c1dc86",
    "socket-git-url": "0bda53987d5813121d2e33d20cbb7e0f374e09cc91e2c78ef789493a8f94c3e7",
    "secret-env": "2df3365ad34804f4ef1c3e0c99e0a420e18151ae9a8d7e17155f6e4d1a1b9bfa",
}
ALERT_SHA256 = {
    "budget": "1feaf4aa74c8e42a3c5376efa79772f28c1664e2662eafc59b84f227d3898cac",
    "alarm": "18005109cb5cede6106ca57bf82272e2bbfebe53a4f2b953cb3ce856dc7d8d03",
    "alarm+slack": "d6fd81410e1bf4fb72f12f73cf3dcd3a1d46b07e11177f6349f9d330cfcd8a54",
    "both": "9c6dbf044823a52b79359fd82eab6a4b3de15cb722ca44c399191ac668651587",
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
