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
REFERENCE_ZIP_SHA256 = "994aa91d8bb17b047e1f4f9b7bb67f13432be0c85a07e0c6f12ceefd796e3e75"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "ea99da8d230816110577a09a4e1ecb958786d7a730c39d1bbc0b0a8a54b3b656",
    "tls-internal": "b3556a312467f16fe936fe51198b38327775ce3e6c145b94ccdf3566ae1a50ea",
    "tls-cloudflare-origin": "bd931a97a8ee64e47a9d231767c211d7d4dd75ca90811841c6e999992e8990e2",
    "socket-image": "152a04fe52289c66a8fb9d0cdc479d7c367bb9cfd2e27d644186c82b943fa509",
    "turn-via-caddy": "d3a409d3f02f04bc5f9710a32a4968f6c52fd33e52cbf4a35a607709e9176b83",
    "turn-via-caddy-internal": "7c4e94acf9ba43e3a36ba6d3d42bbf0ea60b3f1c0aa0a72adadf67f2653f7472",
    "socket-git-url": "96713101609e8e27ca0c5e2cbfd7e266bf52c83feff8998eaff23d29005df5a4",
    "ephemeral-ip": "4c71c767594c3741ab07b22b2cab7e8c69f2c368c6a84a704c051513b87026c5",
    "secret-env": "a96551736df057dcebffcff0c0949b2c9bf922b13424fa819d34b7141c93149b",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "a7dc3d2c2056cb4cf594d2789f03928c5ac157c1f2ea6b4fcdc830f5cd01e3a2",
    "tls-internal": "23533dbaa2b91870e9deee831bbd760e9c8d67fc90f98a72bbef188bce84584f",
    "tls-cloudflare-origin": "bff58004ee9a24522ff4aa91d6c6b8324cc5c20ecf21c0665734a0b51b4fc099",
    "socket-image": "19838f4a40cf8148a796b069a0ab5651165f48977a7fcbcf60923d9531ba5f9b",
    "turn-via-caddy": "8797d1d43db838c20b2687d95c2516990c52a962616094b17f746dfcd9e13f01",
    "turn-via-caddy-internal": "363690ec3a120c9841f4ba4c804647f33d880b8f7c1f64dbefed7b7dbe3b8801",
    "socket-git-url": "3c83a85aedbe1800f51d0737a7145abe6957be500c34dafe9bee5065f1835913",
    "ephemeral-ip": "a7dc3d2c2056cb4cf594d2789f03928c5ac157c1f2ea6b4fcdc830f5cd01e3a2",
    "secret-env": "cc528e90996dd76d6f70c556dfd4d289df7a8b3a8f86b1df445f3cd4d3c523fc",
}
ALERT_SHA256 = {
    "budget": "05c395976c83fdf834c11078cc39461f48e57c9827a5a733b44ebcbc412e4ab5",
    "alarm": "d0e51bb5d5a2759997a5edfa9b5c021737056cf59170e003025886b216403609",
    "alarm+slack": "52e1ca09eb64dda943156cba5da1299efa0add828d735877a5c42dc769bf14a8",
    "both": "d6c4df37a6f25f667778f9b20b722d2bf941526a3992ca8639138d30f2c6752d",
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
