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
REFERENCE_ZIP_SHA256 = "dff765c7fe8eec33d37ce5507d454631a331999aac5c26b8a3e8da51ae4b3385"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "40c3b1ce6c1a31b60cd19b0fd719975e89741a523116ccb8a18524f792702567",
    "tls-internal": "d5ebc5fcce2033f8a22e3a0381b65b91d53e5618f76396cc8c53e1f16b65ac18",
    "tls-cloudflare-origin": "f57754d328f69a8054a7042aecf7f535b626059d75298cae4117788fc78fd980",
    "socket-image": "4535bdef5aa4cbeaa47f4db8d2313de1a21e62fedf3267f9088340b3c5276edb",
    "turn-via-caddy": "5bf60cd5bb7eac0f5b0fb8e3d8526c38c5c2f67591481b5538ad016d9612d547",
    "turn-via-caddy-internal": "83e514e0011d4a2588a6c2f7a365448f922f2d87aa800f87efb98c592806fd2f",
    "socket-git-url": "52f528783e6758e21b07722095a287ee952919af51799ff4c739a90e9be4df3b",
    "ephemeral-ip": "3558e47f00df95cf7e801fdd5dc6994d8e361a90d777c8cab346033c94c8b200",
    "secret-env": "e99f466ecd4f03f98b60921be2f045f6901ca430a313396c83986c93b67f11dc",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "22d9b52148b6873fac1ca6cd9d8db21abb6317296487bc6dd3bbbaa82ad98a68",
    "tls-internal": "f5f400b1f490461174c5eff556660c756eb28492269ac3bb7a9440a198372687",
    "tls-cloudflare-origin": "0898fe16e2aac4d5ab8be94d1a8d7fdec1c0dce709e2dd6552c612ade0ab2c37",
    "socket-image": "2bb290c86f9013544161f974391924a735a5faa807e88a9ebc7ed781a293ddd5",
    "turn-via-caddy": "91767876a3ac928b1ea012eaf4573becd09a6cbb4f5b1e8a203ad5d140ac32c3",
    "turn-via-caddy-internal": "3aa0b135f083a42519d885b01b13d59c14d0106635df02801935ed78556337e3",
    "socket-git-url": "16c4335e58c818103e5a76b079ce2781eb35a0267c2d0d160e867c1152d1ee95",
    "ephemeral-ip": "22d9b52148b6873fac1ca6cd9d8db21abb6317296487bc6dd3bbbaa82ad98a68",
    "secret-env": "e084d7e0dd44713a3f01eb42244b0a644015f81638a3acfb2f0ee382c0adcecf",
}
ALERT_SHA256 = {
    "budget": "ba6960db40ec0e66f857574346ff00ad2d5d737162ed233bdc7e3d57061e873a",
    "alarm": "87af59d07c45a1d8f17ecd22760b190c3aae608996d0d3a9cbe8953c15aaf30e",
    "alarm+slack": "e6d6426f930f27b3b6fdaf5bd682bb96a81621539a00106431622159045b40d2",
    "both": "853425db56029a9bb8eb810c653fc743bb459d226503f8625152b6085992ed77",
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
