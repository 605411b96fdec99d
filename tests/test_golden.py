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
REFERENCE_ZIP_SHA256 = "f938deda7322165e917db2baa5eff469a5101542e567b826f064983a2db89a4a"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "c11ff0edddce802381357d51220ddad6353824bb7ddd8f5cfc5d7869be090255",
    "tls-internal": "36de973c310afaf1b2fb905d918c7890fb2ead8ed206cad2265fa599d4266869",
    "tls-cloudflare-origin": "4486009b406cd54666c6ec6f99efbf722370d3f2adf784b71a14c709b6f9e7b2",
    "socket-image": "2f18c423a5e89e025fcf169396306c0d441ca6917239a9e8096bad51386ab231",
    "turn-via-caddy": "4cc0658d1a474f6babb04fc795c5f22cad61274d118e207e562e3689d93da2a9",
    "turn-via-caddy-internal": "9a4e94f2abbe9bca06a9862b5c1c080682ad6c0309107e3f48e7c9836f9cd768",
    "socket-git-url": "8f27e542ecbf5a322f9ae14b5cbdd72bc2f1cc1d257df2f740bb228d93443bfb",
    "ephemeral-ip": "ac010edf11a76c79bbe78d70685db9890f849a378b49dcfcf881dd8ac3269d9a",
    "secret-env": "e0de2cfe3d511f73ac561fd0e82ef7b0c89c9b51b1f441797f627eb38939c7e7",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "7226822d2799058ae75cb1b3ad4b862d9a10e1a103ef049ec344407752952771",
    "tls-internal": "3191aa2777ee2e4a3ae1ca03e816f3237bcb44d88c17c689db9d41461e9000f9",
    "tls-cloudflare-origin": "4ddfc5a53e436b539cc3a15e67ec4e3f1d30393e7c89f5163f03c26e7d9715eb",
    "socket-image": "11a4e2483fae221a92ad9af42ab07fb6a9d9f892c0758cbd5d421d5d6fb2104e",
    "turn-via-caddy": "2a1a01d6e88914598acdf718b2ebd285bb609a6d75483613fdbe171865cb8efe",
    "turn-via-caddy-internal": "aa1b0ed214ebbc8bab8e23ed0b8552b5e5bbafedffc85a5641433d2440e5413d",
    "socket-git-url": "df40502fb385eda8eef668e49f322d37e802924ef071411cff35042dcef6424c",
    "ephemeral-ip": "7226822d2799058ae75cb1b3ad4b862d9a10e1a103ef049ec344407752952771",
    "secret-env": "556166b65dd70ce96aad961349eda895e23c69ff8c866a57c7f941346568c5f7",
}
ALERT_SHA256 = {
    "budget": "375944479ee4d4242f7faad64e687cdadb50bc40b73bdecf0d5d09e352931cc5",
    "alarm": "1d1b9f895e3bc61c9f87d699d051726c0e97ef7166c9da0ab707593c298d7f3f",
    "alarm+slack": "2884471ec73bfc63fa69260760ccfd0ad75f1521b968319d595739d5c52497c2",
    "both": "cc5194b6085181b75fbefd581f6b810f1a42d1258334e0ca405082cc1163315f",
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
