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
REFERENCE_ZIP_SHA256 = "10dd28381251a6e4ebca0952e1d6b91ed23e63ee6ff403c14e04c56accba9c52"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "619c0b8884ef8fe0fc8170f18c95c76e651e219bdb0ccfb174e66d560a2d961a",
    "tls-internal": "394f1554e4679b3c37763c1f12fe86207991a5db63ca637e71b0eeb33937f059",
    "tls-cloudflare-origin": "f2cec457b54e8e4b1bc324e4d2f16be0319ed134453d510ee2d532fb533d04ff",
    "socket-image": "43f6b51731b59d49812fec2fe55e688b3e24a2ca134f931c6a3a905e173e5a31",
    "turn-via-caddy": "cb9fdc0c7261d631f8c124d234c9d0df89fc566bcff1d2433dfad8b300058a9c",
    "turn-via-caddy-internal": "b5b9f1c0c8ba2f69027f42c82c63b8c561aa1cfe3d3fd7e8750b4e4367f1e33d",
    "socket-git-url": "0ae9d0623d2c7a9f5371fafda0beca11d68bdd3f9a8165772cc07cf0e6011baf",
    "ephemeral-ip": "df93064685ca79ea6795486133ccf11a4fa405baf55b611354eb285aac79e171",
    "secret-env": "25b6e8520787a75f6c7b4bbc7dab771b08ca134c158a9a6fdd05d3645509c94b",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "dc6648bf67f64f242634ecb4c3f9f40ee8b9e040e520c22e35ddd20f902a79d3",
    "tls-internal": "89ee8c876e01fcf05e90ffb1adcf99c3a73dce0b4afda523ad0f52fe248628b6",
    "tls-cloudflare-origin": "f35a07093e43821d7b9d2213e1b54c69668ed59bfaa9de52757455305b2ac343",
    "socket-image": "a039fdd2dd102333d41c2bd9a4e7e67c047585e7785ff3be6e773b9ffeec9c5e",
    "turn-via-caddy": "40b7311566862bfacab752b6cb3964ae74a21efa7c9b51c2298226426d4eb687",
    "turn-via-caddy-internal": "1c5dc5fad6d9a0d748e290e80535aa82b6fdb30d577285989b7da3b782c94d88",
    "socket-git-url": "a691e78fbb36f0f95389ca41ee15884562b98b40691657f151a24b1d0055e313",
    "ephemeral-ip": "dc6648bf67f64f242634ecb4c3f9f40ee8b9e040e520c22e35ddd20f902a79d3",
    "secret-env": "a59d6356d816496071a02552fd258971e712b34ac8656c7f3ddee0c089bab55c",
}
ALERT_SHA256 = {
    "budget": "1d7d4e44e52942c15ca903e2fb0d5e8c05fe036acd44532982cc4d99077afeae",
    "alarm": "cf99d73947f1a43d89311115c882c2422b06f985c487de190f4d2dc626a63ca1",
    "alarm+slack": "3095e6c28e18545cb39bb4f3bd1242f2e554ee2c21e47d6ecacac28d0f409f19",
    "both": "4e7830c72e65c712491a8b00f1635a339003ad2446f4ea3f7f04342eab05e576",
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
