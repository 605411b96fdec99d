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
REFERENCE_ZIP_SHA256 = "71659f1ef7fb451664c6b850ac64a7c727693a42032104a84c683da1ac0d7b0a"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "8f44a4c37cb287094c25d915ae67d3f6da8330ebb5539c4805aab6f34fb95b7b",
    "tls-internal": "5f99890228837b413978bd09746ddf3ad2571f4bd5c3a632660119673913295c",
    "tls-cloudflare-origin": "64c2244576a45f755185bc6af022feb7274258c7e76649c40beef0542c3ca632",
    "socket-image": "710767bb6b0794bd2b8e906e2195a5d6a1bb55e61504f2857789d5e6573c6a67",
    "turn-tls": "9959ac494d2ce3ee722cb4181ee07b68e55e1ab92cf29b449e80bab10b13d2ab",
    "turn-tls-internal": "f029169074b6584d4422eca2218623e7e6ef206e6eda65054ef59b49d51fe87a",
    "turn-tls-cloudflare-origin": "ca74d0e45144e0582c7ff5ecd6d2a1c60bc42b1020ead0e6ea7ac59aee1ca81c",
    "turn-via-caddy": "e819267e29a230a522e9556d904c52d547330b138551231c89eaa65cdbce3eba",
    "turn-via-caddy-cloudflare-origin": "706f4618dd6fcad06a0f502bad37e8a6ece0d1f5a5eb0a4232b83a707099fac5",
    "turn-via-caddy-internal": "6a878f3ab24dfe73d653776d877ab8187f4adedbc20b2237db011c2827dfeb26",
    "secret-env": "b8e3c7d6cb8e367121aa6136a68e728cf2fd2f2f89c2fc91f6b7994c30ec056d",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "dd4e3272d94f39717e0ea1bb62951bd4f32e9673b365b07bfc0ae9849ab1c4d1",
    "tls-internal": "f8aa1d909a5d721aa05b9dbc8f700f2b983783982a32fbffd17b705caf7850fa",
    "tls-cloudflare-origin": "b5d433cd4dcf66b9accae3aefc1a1d5fd52386082a7110201a6c06fca078c03b",
    "socket-image": "22d09e0889d041837edecbf3536ceeb24c7ffadbc39c765bb48fcbd54c231cd4",
    "turn-tls": "9d90095595f1957fd6b345755da098bf692111099147ee0c8439ec18daf6fda0",
    "turn-tls-internal": "5892a184ef7a0c163258ecfcc119d16514ea6bdfef0e01f4e00d397d97282463",
    "turn-tls-cloudflare-origin": "d36b69cc2a2df77578f5d9dbc8046ec7c30b09d941ee27bead8b02c1e77b7eae",
    "turn-via-caddy": "ce02d132c0d598f258afdf5654c9b1006913dfd2299231a2c65a1c76f46f8938",
    "turn-via-caddy-cloudflare-origin": "b1831a7ba9c61ce8743aa9bc424c0efaaa1ad0053e7672f276a6e6277e8cbbd3",
    "turn-via-caddy-internal": "e4624852c2f091d61b5461922cc2be9ebd22df941b7f8a5d03c1a2960cee3e60",
    "secret-env": "c0b185bd6f1b4cbb89c1f21de9e324b562042c3d184c1f48e13a6aa1dff419e3",
}
ALERT_SHA256 = {
    "budget": "a4b8e7caafb339434f7b8f83dbc9ee88b67ecb157f7d06bbe7f5fd846abc0d0d",
    "alarm": "dfec080fe84bc5bd8ef88b231aa637bd2691faa8322f0e67aefc11b1c9531c72",
    "alarm+slack": "6128b73a5e3d005cbae70e26edccdd4b16e3bdaf740832936607a464960e7c20",
    "both": "626fd2c0d6f8ca6706004d6502e1786875f24c6ea57160e98d321e414747111e",
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
