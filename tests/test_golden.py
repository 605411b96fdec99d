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
REFERENCE_ZIP_SHA256 = "6cbecd0c821c0d9acce8d927765812335e32716ba16e762ae181017a5acfa2fb"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "fe8fb610f45b23b7c51d8cea2df29a996d356192dc47ff05856d49e2930fe020",
    "tls-internal": "207acb51bb8e10ec4594a4ceb0c34d6f8159cca808eb85f55c3eaba348a6e880",
    "tls-cloudflare-origin": "7476e594157bcd6fe3df999eee0387dcd29ee1e8b7904d3d92ed510fea2f1af4",
    "socket-image": "7cfb93d6a4b2527f7ed823e62af1c53d6c497bb73522e8e4a16d922763e1ed75",
    "turn-tls": "eb538292085ac90c01f1895e8c1b12312476f98187775c7bc7ada0c602ac30a7",
    "turn-tls-internal": "4c6013985698529426c1a132b97970336faae654f883fed053561afb1596f964",
    "turn-tls-cloudflare-origin": "754d49f2924e622781fa548ef877539ac2d79d879d511a6f23e2e3bd77c8b6af",
    "turn-via-caddy": "44f1f627045cc8493582587d6de7e9f9bb527a96449669f5b409c330a9afeaf6",
    "turn-via-caddy-cloudflare-origin": "6a31f98c82d15bfc318e5054b98740ed517c1432c1361d9d5c11c56c675634e6",
    "turn-via-caddy-internal": "6f601116ebd1f14d2c41c1b57ef9b93dd902da89b486795aca0df051aedffdbd",
    "secret-env": "c89d1a320b7a58db098a9c99730ab30dca4c21fa56b8c4b572c4c6c1f9975bf3",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "dd4e3272d94f39717e0ea1bb62951bd4f32e9673b365b07bfc0ae9849ab1c4d1",
    "tls-internal": "f8aa1d909a5d721aa05b9dbc8f700f2b983783982a32fbffd17b705caf7850fa",
    "tls-cloudflare-origin": "b5d433cd4dcf66b9accae3aefc1a1d5fd52386082a7110201a6c06fca078c03b",
    "socket-image": "22d09e0889d041837edecbf3536ceeb24c7ffadbc39c765bb48fcbd54c231cd4",
    "turn-tls": "1e757c1a143f1ecc5a2e20cc89e6af84332806b12f960c124691a1bdf58a7f28",
    "turn-tls-internal": "5892a184ef7a0c163258ecfcc119d16514ea6bdfef0e01f4e00d397d97282463",
    "turn-tls-cloudflare-origin": "d36b69cc2a2df77578f5d9dbc8046ec7c30b09d941ee27bead8b02c1e77b7eae",
    "turn-via-caddy": "ce02d132c0d598f258afdf5654c9b1006913dfd2299231a2c65a1c76f46f8938",
    "turn-via-caddy-cloudflare-origin": "b1831a7ba9c61ce8743aa9bc424c0efaaa1ad0053e7672f276a6e6277e8cbbd3",
    "turn-via-caddy-internal": "e4624852c2f091d61b5461922cc2be9ebd22df941b7f8a5d03c1a2960cee3e60",
    "secret-env": "95f64b3a45bd00cf6a3d7cffbbae27de5fba6c7b80981a1493dc979df27b87a8",
}
ALERT_SHA256 = {
    "budget": "34fbdf4d759737153aa86e06c1ac97b1a1ff928e8c3a3a37fdb09ebd37d0e9eb",
    "alarm": "af29147c0f2d2b8a2c3a7b55a68d5663a2a16c97b963c4bf0cbda441fe0fca34",
    "alarm+slack": "a1178cb0e7eff1177880f06ff258a0f8d9481b664ed7db3a7e84d2f67062dbcd",
    "both": "178a33157bd74f49e4e1246c2f7db63f508b1189c1fe2317f5b63567fe00526c",
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
