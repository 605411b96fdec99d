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
REFERENCE_ZIP_SHA256 = "03be655a542d2a549772bc0f287659429a5bbda71f775531aa2b6ff08b237762"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "ebb4b42551b40045830e3206764d9dc0108e06bd99668f214c943fe924036b9e",
    "tls-internal": "4c7595911cff28db042055ca444f12a49f75cb7b468467d84ec1ee2fa7382b47",
    "tls-cloudflare-origin": "86ab80c120d63d7a02669adc04ed9b16fb26df8b34ccac0ead9c14a3aa821113",
    "socket-image": "f867c7dfa238a2270751777056ae12059f6aeacb35b6851707758945836012d2",
    "turn-via-caddy": "30c301db63707affa97cc26286c6495e6e4a69f4eaac5f1b21b7a9bf60ddf005",
    "turn-via-caddy-internal": "9545d1c648a287e150bf2f3d0b1ad02a8a16fe9721482e379770744feef2d902",
    "socket-git-url": "6583e9b2b48ed853d6f24dd6b14b87071258f25a6eb5ecb8e463da9e64f5495e",
    "ephemeral-ip": "ed0dd48d79965bcbcc7cda0adda5fe73519b4cd1cc2126b034cba8315a18ab2e",
    "secret-env": "433fd87040a35f3e2a3012d5560fe9645df470c8ac66dc91d1b0ae99ac2b0b40",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "29732afbaf737c304e6e1a515f3b1010d579d8ff45b2cddfc95fc9d23cdf5e7b",
    "tls-internal": "9417051c6d9dd845f17762b5be5be1f84ab98af18fce14f47c58b292868ac2c8",
    "tls-cloudflare-origin": "8fe094518b3185cd231048312276aed38838cba3d390981c14f9cefc03f70356",
    "socket-image": "fb113b709bb36138488481af7083f68940c59014c9217c501210c4599983a01b",
    "turn-via-caddy": "650e481abc55dcb42db3fc700e4a17ad69422f09b337cbf78c3c1ab724914182",
    "turn-via-caddy-internal": "aa1b25b6a3921fbf7b5e496488b21f314da38ec84196cf6f7e81de5b97afbed4",
    "socket-git-url": "aa0bf291e6e03523fe52242e8ad4603a843513714afaa9a594c18a35b4ec14ab",
    "ephemeral-ip": "29732afbaf737c304e6e1a515f3b1010d579d8ff45b2cddfc95fc9d23cdf5e7b",
    "secret-env": "fdb42ee78e45625f2e34f587df3da3edd3f2ba372a0e4fbf56c1e19d7085d975",
}
ALERT_SHA256 = {
    "budget": "7b38234c5c89f6c720679af4ba8b5fd4eba1c59ceb38c38d878c59b2a6817a99",
    "alarm": "5c6ff7202e106dafc45d9f6bc4b5a9bd588b9076a1a33175507fbed42a22f2c3",
    "alarm+slack": "ebd3e7f0b039d917c18c1060ce80a3089fb9f0a0c60027c1140bf0ec67feb966",
    "both": "1f024ff01b42811466dffaaeb518ae37f0166ba7ad20163c44bf92e031a22928",
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
