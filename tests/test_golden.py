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
REFERENCE_ZIP_SHA256 = "3641949d4a3bc102f975591926fc9e17e8d5d6c10da7c23d7d8f53cdf1562310"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "9b9f0e7789d4108f356e9065abf69000c73cc40cc3738dfd5eb8aafcb089d354",
    "tls-internal": "50006e21f7f52f23726bf32e4c2ca05f8ed8c696eba88b1fe7b84bb21db42d9c",
    "tls-cloudflare-origin": "123b016d22e10dbe74a63bcaf3d306093384a202e0eb8aa6174707b8b88df87c",
    "socket-image": "811d1e16412dd092d774786dabf921c9638ff9800799cc173b8b751ffd126759",
    "turn-via-caddy": "928d40d952e4d01845ebaf6ff1eaa77cb78e2c7fb40c530ebf1cb11e859ffafc",
    "turn-via-caddy-internal": "7fe94f0d3bd1d724c0eb56855fce7ae41e8a068c6165b6a53d437b1cf1f3530e",
    "socket-git-url": "ee1f488ffa83d49a879f539dec4155e719c7eb894429ffae22d2f94d9cc7d874",
    "secret-env": "6500c4922a40422118ce91954a2b54808a9246f90a7fc498b722eca091a127df",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "a724b34cf2fa68641ac67229f3c8fa94ec4f448be006e70b1211381ac552d0e9",
    "tls-internal": "0abba20b039f72c7a5777f816c8e91488365690e523b98d00148b8e7cdb241d2",
    "tls-cloudflare-origin": "e9cc614ec35f3c741fdc6aa78a88d39bb4bdb07effcac3ef9c168adf7ae09339",
    "socket-image": "174f463c3ca25b306a54e545c547ff67aefa133bc050710df1c6db6c2a58f496",
    "turn-via-caddy": "9e62dd0ac628606ee7ca428e795ff8ac9e0b899170fd21a82ac690d7163ab678",
    "turn-via-caddy-internal": "672cb65d600ee6cfb3f58999ab766a9f7b6f9799c8c61f7308506417c15a79a6",
    "socket-git-url": "1587833f31a39c585a54a07b3be2ce75c3edc09960bf476d45a461890ec61451",
    "secret-env": "b47d1b9eaf597a63aeea1fca6399e7fb8133e2c5ee1809273ad8f390e2dc9569",
}
ALERT_SHA256 = {
    "budget": "8d709fde45124359ee5f59ee001d446934595f75d06749f2e918a8746f22224e",
    "alarm": "e5c2f58e1ec27e436707c912f280fee164ef0e46c534f1aa7ef909ded648bba6",
    "alarm+slack": "e5d69e10d2fe6e63a02a66b625e415fef863f55e2dd3d9ad53e9d2a8cfa52ca1",
    "both": "c64137ac7412902b087057e1b01154719eae4f23fd9a2e2550e39c0d20bba650",
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
