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
REFERENCE_ZIP_SHA256 = "c1c77b0fc10fcb5f3821a60d2b6b0a9110c012c4be24e4bd161180b24e88cf48"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "c0bafbc17ea6081fa73fe6c5e28a27c73b6ca69e972c361296a407c5e4c38dc0",
    "tls-internal": "324b1f03d90bac22006317f8b92572521aeeecf6fd4f1a786ba63e44b930c8df",
    "tls-cloudflare-origin": "d9f3bdd4e4554d071ebcf797bf5d91298e4b9df46aad1dacc391a8c0e4c4f609",
    "socket-image": "46449cacaffec4ce0c21b41671a240af6aa26c3216177ed68f728bba91242078",
    "turn-via-caddy": "84eac1d7f6b74fae72b6800ce1edfe32711be6f6bc352a88216aac9475d46f61",
    "turn-via-caddy-internal": "eec766f3c4625709a5b9eaa085107db8f7cd9312f2111c9fc4dff19a1aafda8b",
    "socket-git-url": "4de7275225c7f5a7bf9ece0877c4023333cdc1266d40eb4adfe4791e06ff577e",
    "ephemeral-ip": "87e70d10edb31d48e3c13723e35b281885751a4d3c69e8392311628a424e63cc",
    "secret-env": "aeb5086a1b460ca19be6e6ef37f0a0bf005a8642fefedcfbdd935b85e378f8b0",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "803417a00f03a621a7ffdf0e4c64bee784e31c21dff62d90898ad22a4253a897",
    "tls-internal": "76eecede5c0fd0d17040fa979206c4e108bfa208804be50cdd4a95d0686df929",
    "tls-cloudflare-origin": "a93df4c0bdd01b31904cb9465d893ab41f6d1e0aa7da991be8e6e82724111d8e",
    "socket-image": "9e59b55cdb2a9340224add02937540860bf7968873a90a6c802e0daaebd443f0",
    "turn-via-caddy": "9339cb400df09deb798da8c8ef465985c93d7bd2710822f6525bbfe90e280585",
    "turn-via-caddy-internal": "07a58d42798a32bf5f593719a8cdf4d7447d07a8076dbcf35dfbf8851ac61e5d",
    "socket-git-url": "ddd1d31d0b0bf1431639a6f27c1989e764a9023639fdeb3bf62ce05343af6416",
    "ephemeral-ip": "803417a00f03a621a7ffdf0e4c64bee784e31c21dff62d90898ad22a4253a897",
    "secret-env": "a4c3304647d83a5907933589009f599a4383a5db0b33814862ca2c342377e297",
}
ALERT_SHA256 = {
    "budget": "5a5360055295dd595591834e33a20df6352b0d1da095ec84defa2a5ba79f532d",
    "alarm": "bf59e89a8cfaeb0b8e3a245c79e7b63157452f08bb92c55c9588855f503f64e8",
    "alarm+slack": "94ea755edadcc33760935c426392e8266443edc71efce6e7ca379e124efd85cf",
    "both": "56001fa21a6acf535d30c4c15ed9cd2957c1f1d62132b070a48fd3a9bd7ca032",
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
