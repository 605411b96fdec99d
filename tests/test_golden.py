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
REFERENCE_ZIP_SHA256 = "b644a6c2caf0d658c51bfe16308d15987e091f631df644f122982354a8e143b3"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "7ce98d6189259c05e64cf50984ac30e12314104cdefd4fa67555a63e16814ebc",
    "tls-internal": "a2a0df80928917fbbe0ba68e5a1e9bd677cd85eb01e8f26933c07793035d5066",
    "tls-cloudflare-origin": "b74d52242dae230c8743d7b49a9d37899ab39e43e6ee940a735ff18f62696ff6",
    "socket-image": "1dc5942e004cd240d5473e42639be4467c44db3c4ec7b02f6362e2e4c43b4c86",
    "turn-via-caddy": "cee8c4b4424c858c984e3d2c95eb6406b4e2fa1f9ab3816140c0608cf39efe43",
    "turn-via-caddy-internal": "02fc6fc1ae1af2e25ee939062c01cd1c77df5e80bb38b28866bef4d859b5dd1e",
    "socket-git-url": "4fb0508df0346ccb5afbbc0b567021e065311fe586ea66dd4bb73267531f66c3",
    "secret-env": "27de3a797233cd54e5554faf080b8beccb6de9558e4dea7aae87fc65b1599e0a",
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
    "secret-env": "e084d7e0dd44713a3f01eb42244b0a644015f81638a3acfb2f0ee382c0adcecf",
}
ALERT_SHA256 = {
    "budget": "52b75e2a23120dff6599ba0f9a76c1571b7331022114c4bbacd1165cce5b010c",
    "alarm": "83d9a06f6e94cba695aaaaabf9ab6a0c23ea35b2185d0037808d919fe3e2fddf",
    "alarm+slack": "1c5396f6f6626fe2a24380e5f55f572cb75a23bcf608852bc651f3c1ad14ede1",
    "both": "2309bcd39e94766a3ddeebcadb52c752d8c4cdc9fd8093e848fc14d49e70090e",
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
