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
REFERENCE_ZIP_SHA256 = "5397a88fe01ef172fe047676f0bbb831dccf38695bc09e598a07be87a7c0b76c"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "0f23ccc7ed6bbe17d27629031dc98423603f57d4a0274f2cbce0bfd3ea4ae865",
    "tls-internal": "f7a213e628197b155a075bdcf2462d44b76e7a0db315556be843bfb8184332c7",
    "tls-cloudflare-origin": "b90a59fc4d6f995ef434167533e94b30d21369e3c32159f4f08450912879ac45",
    "socket-image": "fe274cb365b3e4eef1e713839be594b6f0457455968549eb8223fe71f8332bb1",
    "turn-tls": "4854b5d816c44e02535c6b8bba6d78b2071be22200d11228d52b48a878165ffa",
    "turn-tls-internal": "61ef93743c6eca97ae4adeaf8aa10e70dfc1d352b5c7b40c32c6226491de14e3",
    "turn-tls-cloudflare-origin": "eb640b4b5b6bf4404a891f48169df780211343f4b2320a33088bef5b4dfc12d9",
    "turn-via-caddy": "1ae1414a7cb0940399877f24b22aafc49a34ea4cd4428a4f4822fd6430d03a36",
    "turn-via-caddy-cloudflare-origin": "b49dfc2daf7924a2f1545c352cc9e9cc01ba0f6493265a24d4aec90fd1c9805e",
    "turn-via-caddy-internal": "4db7b7f20173f74f79111d620456fabd7a4b12c3f83384e26683b19ab597c8ae",
    "secret-env": "f8a51877f1a6fe99e434c1e421fa006ffcde997891f2afe10d100cbd176273dc",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "32ca3af65da0245f4c5e88bd8f21336bca97c39a8bbf61e27ee46cb321b1d23b",
    "tls-internal": "b5b6fd291c25fbe1ce58f7303d54e2e77136eab948b8cca29e9a08e03f7c131a",
    "tls-cloudflare-origin": "e56ae250062802cbc88a7c45277e490647cdf1fa5b939b2d5a0b24d743f07039",
    "socket-image": "8bbbcf20bc2e22674bcb94025e4b8b57c8db1dd25f10be254a27e432359e4f37",
    "turn-tls": "8fb4796bb5ab06074104b076e53d88bc64f687b25f9c1d39cefa584d6452d2f5",
    "turn-tls-internal": "a6923713421bf0f7dc4f3884ff3888b18bd0d01a0866f430d896fd00113c902b",
    "turn-tls-cloudflare-origin": "cafb64a71d25a0e1fce20792413cb92160897b9cc944e78f87bb85fa10ed0011",
    "turn-via-caddy": "8c4810b6a4ad23757bcb9b90fe611db421dc0b33beac4e094c6a844a7ac03677",
    "turn-via-caddy-cloudflare-origin": "b32e6b414f7720cf6242e78ebdc3234be8e3ad84b5501ad28354b8fa5bcdc5dd",
    "turn-via-caddy-internal": "5a2c9d8448bc50a1f5e8531e2e192ad9301bc080e2813a5c9d1309730dee3e37",
    "secret-env": "f311b1a0f0e6b4e7c876a0deebaa08f804f8fc1d9759ca6d99e461e0c3398f3b",
}
ALERT_SHA256 = {
    "budget": "9c92a80b439f9a6db658b9dc97d037322cf5cf0f652b8f53a9f4ec06434eaa34",
    "alarm": "dfef93f8841ad8e60e5d69c0463233923e800f28f6f8166dd8cc026567881481",
    "alarm+slack": "bc92c08b4330624e90a6ef8f954d1691fdddb91d5d663f8958fb48e09d816bf4",
    "both": "bfcf04cd1a3ffd4c2f531cf6a60dac3b87d949f3b58427cac7fd8cab910b9c8b",
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
