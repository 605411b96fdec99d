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
REFERENCE_ZIP_SHA256 = "8007929f1d0ba043e1240be8b24a6af0a9858d4f6f3cf0d9370c1bbc1662001c"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "79436bfaf6e506a4919afb2c675df588662e5d8539f98321bda671e80d4baed8",
    "tls-internal": "5f569fb866ea48c18fe4a2b62d71f57561cb83461c85997a2f538ac3da517b06",
    "tls-cloudflare-origin": "7964f091e99a26c53211b3b76c0fc2f5a3bbe24ea147888150c7cb2f70893431",
    "socket-image": "17f5c40cef7cffc55a34dd7317ed0520499cca7a144a53f7b7f62f017eca7f82",
    "turn-via-caddy": "efdf48b05133737096decab626f4943de593c05f80d26ea89a7b4ce127f56c34",
    "turn-via-caddy-internal": "69545c05990072e421880d96fc0ed480baf003306a9f58466fdd40da7c548fcf",
    "socket-git-url": "de990c6fb3728a6c9b2d1a36bd8be4318939149c4ab8bd943afb541789d5d1b9",
    "ephemeral-ip": "aaeda58eef4637b6eb032b2decf531147689563752696af08ce5fdc77f00870c",
    "secret-env": "88594120107698821c6f159d4a7a55b89d54e693636d1494b7b0f1582b34e7a4",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "39e8fb77585538576f8522af980474d9dc89116715f272967a049c09de356cfd",
    "tls-internal": "aa29e0f4335d962d35bdc92d35ba746c29a033313223c2815b694284c1654636",
    "tls-cloudflare-origin": "c8b35f1ff089b1405857a27592ed4c0d9cb0f9ff5e481387f0fa103edf5eec72",
    "socket-image": "45ee518f6bd174d1b1bca36a29c122421be4fc75f9360f2e947b645c83c3fa7e",
    "turn-via-caddy": "a209498046724edf23c8346a06005032e3b861ba61d865baa2a3fa1662dfbde0",
    "turn-via-caddy-internal": "c369ba83fbb83deaa5a37275f0b0fee41dc69a567d6cced7e11825d45d30e124",
    "socket-git-url": "778a7cd67feeceb36618e30b8adefea153d306a4dae6f188f97d59ab8747999a",
    "ephemeral-ip": "39e8fb77585538576f8522af980474d9dc89116715f272967a049c09de356cfd",
    "secret-env": "68b05da2da88e33891d302ded3499898a86b4b901dba7209f445625f15d1175e",
}
ALERT_SHA256 = {
    "budget": "130d7a3361d2eed486541594f3f6efe45a7ac1d75533282fbff8a3cdfcc11e47",
    "alarm": "5aa9f45db1dbae65d96ecc674699d32860f74b7133d37b5e4072af21f1c30dda",
    "alarm+slack": "46315a520848fefaff4f8777f36470beeef6ee742842435601f2bbdb50660a15",
    "both": "b3c5034260d964c697ec26f5902399726a07ccec793977ceea6367609521e294",
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
