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
REFERENCE_ZIP_SHA256 = "191afc5b14ae815c689daa04a63d69ac302ff9a113d81e1b18220d0eb92e4277"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "5d76212e70e246cb42f134162f070b2233aa4b447bf23c72dbb247688335fe80",
    "tls-internal": "28502e85d0b712258842b3d3197a21e75d4ffbe7876efd747982a5715b437d63",
    "tls-cloudflare-origin": "b0a5df4983d907e7959db2a8da5f6e9bea2911f7f6caf7e81584d8d0af09e34f",
    "socket-image": "98bdd15e8d5c25d967b2c31833e502cf48e5d22d57c9facca929e6732a00f28c",
    "turn-via-caddy": "efa055b474a61e942cf6a7422f6e0ca0e1ec5f89962ef48ae77214b2c1abf3c9",
    "turn-via-caddy-internal": "75c968df3eb32f61a31b1f1853f224c3255b2c0df766a05c9af0bdd66ffb3648",
    "socket-git-url": "2573b83e3c800100c54acf9ed1ae3f52651342904afd202011ff9c2c47d59427",
    "ephemeral-ip": "ff06a564cff5915c037371c6d00de63753c3e8e871d288fd22ddfd0b47ede6c7",
    "secret-env": "d733c421f2509618f136095f91d6f48477a743d111c5cf08a7ac5f2d11bf5afc",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "fe14d7dee0e3f61c00ded29acdef5ca976c5b15309a911bfe87395760c66982a",
    "tls-internal": "ef3742c3c8169db23f9e178c672d77eb468bacafd1d25a3e16c972e5ae71d7df",
    "tls-cloudflare-origin": "f489ce57a9acf47a7c4792ca75ddabf13e560e2921522c87c9d3be639bb63c03",
    "socket-image": "d80bdf50dae9e65e49030e6ed99e71d8b24dd555301f7caf7894df51f50e041a",
    "turn-via-caddy": "704d0a9cacd5ebcf818c21644f645847ec40723ac712263389b7b28936f529e4",
    "turn-via-caddy-internal": "93fcd62a27f29c9bb48aeda95e85dcd30be7a3c176b332a10b13db3ffa9ce725",
    "socket-git-url": "d3d406d93b4cb5623388d6987df7b0f126f9166d93bf1944be2488057747f3be",
    "ephemeral-ip": "fe14d7dee0e3f61c00ded29acdef5ca976c5b15309a911bfe87395760c66982a",
    "secret-env": "edc4be91bbf956bec97973e598b1b9865e589eb3fbfdd72a156749692d69a08a",
}
ALERT_SHA256 = {
    "budget": "d2b3783e8c850f28866a9bf5e09ca1f8ae72b820bc45ae4b00462e83fc1b0437",
    "alarm": "030afb797513014afe515d77201dd2a65a64511adde8018767f8d8996ac44d84",
    "alarm+slack": "dfc8ee9f33d6f4a47708d948fda0c28d8b5f207ea399a473a7be48091b38a07a",
    "both": "13c54ab9ea1ac38e7e75c67f5ccc6f659434231e5b6cb717bf77cda816d906c8",
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
