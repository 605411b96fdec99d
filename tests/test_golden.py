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
REFERENCE_ZIP_SHA256 = "6ea96163e94db537b656274e04ca90bf11d347e214c6447899e76e408e82e9a8"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "a04c672fa898097fca3a7c8961203e01ead242c988a71f4163e78195555c0a5f",
    "tls-internal": "d5330300fc1e9411dc8d2decaae0921b581657d2acf282cd23af99db3d34ce82",
    "tls-cloudflare-origin": "9bd2547c1210a028f5bca7c08b253b8d42f1d1f6843cab9b8e998657c7317216",
    "socket-image": "5ccdec4d846b11708c528f4a82940697da259d8ec28a5f958169fde32265b55a",
    "turn-via-caddy": "00d26da6229b0ff57e220e885dd6aafae9008bf612dd388dfd8e84fa53e3fd73",
    "turn-via-caddy-internal": "b8a591a95180fc32d950cd6702bfbf6e7e062b94a39bcb1af65e04c326870bb2",
    "socket-git-url": "9996b8f860d88b264f49fbf17719960c3dd31e1ee636170991d8e429fe142a9c",
    "secret-env": "1611d7ab06e4fda5619b6f830088a9f64d9bdd4aa6e4dd7592ca18517b5be518",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "1b8219c3e200ac47b98ff8b2f6c744a104279149bcb5ee86ad4b4c64b8ea736f",
    "tls-internal": "6d55f112241448533a2fac01017081aea6fd7e00122c06fbbdb5cdd796e02a96",
    "tls-cloudflare-origin": "98d1bbf7f93ddfc208ebd7b2bb60b0450b32bb4dd425c1777c59559083b79089",
    "socket-image": "19838f4a40cf8148a796b069a0ab5651165f48977a7fcbcf60923d9531ba5f9b",
    "turn-via-caddy": "b75712a03a89b54fb94c9fdd63bd7c2a481f99ad237b992131132153fa96873b",
    "turn-via-caddy-internal": "a657d4077ad91ab9de02b7e8bfca22ecd6010f384845ad9f91bb6d3fab69b7e4",
    "socket-git-url": "3c83a85aedbe1800f51d0737a7145abe6957be500c34dafe9bee5065f1835913",
    "secret-env": "1af644bb1f6e10b1b3a6397298cba0b0902bdcb87bc00a51b9ebf819406ec52c",
}
ALERT_SHA256 = {
    "budget": "cae47a60f0d3ec182360e67d948dd565b7f4329c829cb11d222ab3003fae800a",
    "alarm": "42984ae746cc08194fb4a5a372f16f0f0004963b74068d59bbb0a58f585a7a95",
    "alarm+slack": "7fabea9a2602cddd6f149336976ab255a0036155386d9b70e2c0c6b527e21222",
    "both": "02f20dc39bff3bf901b8b5b299c55e1e72de22c03229d4571194de3e002fc8ad",
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
