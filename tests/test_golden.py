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
REFERENCE_ZIP_SHA256 = "ea2c1c223d07fa9d141aaf9547ac40cb20e513857dc94f6f6d328cc37d7e4463"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "24212f4b0c98afc68c11b8ee2f2df3631158563099e2bb55eb7171bfbc61a2c1",
    "tls-internal": "b41f21bd07384e10301fcb164058053c1ce7583dcf02459b0d4369febcb290b6",
    "tls-cloudflare-origin": "13cf19ee1b3506ec7705800e9ed68290e50f2ef2c306d6a3e3c33c8275e6d1f6",
    "socket-image": "a7efa726174308558188fdaa570b64656aa57b58b47b8ede28cab167db0f8d02",
    "turn-via-caddy": "6505ffb384fe76bbfe0240577924c52f89ae6c771fa2a8f25cae3e55a4b9fa6a",
    "turn-via-caddy-internal": "5a2267b5d581e1da488a9ecc161758f5fc6b4af20c491f72292733db9020bf5d",
    "socket-git-url": "f98f2bdba0bb23a6795c7f545ae1d7b262e0b88f87c6fbe4da3070c9ad04e861",
    "secret-env": "fe8f0ec1e2fbac5e3c659d611bb3f6482269c0e3ee7e0f84db041cfa25621d1b",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "09d02a1ea5e12279d56ef63269dcb7819fbf3971ed0a00f87f7282033d8f5e7b",
    "tls-internal": "69bb63f6f0e07ade82d7bc857ec2029028a12e81d7e3ee62ea0e5d2eebc7c29c",
    "tls-cloudflare-origin": "26d4e314f27c4896a5a189f7d9636a04206e4140277eaaf44b0f5317a186cd7d",
    "socket-image": "049776c865d80dadcb50e464e8e268018cf1ed251179b5dcacf90f67fcbd760e",
    "turn-via-caddy": "6aa228aca973b1dc3473294c1864780ef13a9f37ec06daad6a8e2cb79561d6e7",
    "turn-via-caddy-internal": "6afeb1d11fa69bb1eb19dcf92222599e225860ddc1ef988d8dbccfb8d68adc63",
    "socket-git-url": "341635da81da01decc94b6c9b5d06b8addb5d2117b1945b7b84b6c747ffa340f",
    "secret-env": "be2077f743f002fbd706a43d73a5750c828f993c97db7c11ca68f4f38ee88a0b",
}
ALERT_SHA256 = {
    "budget": "a8c2c03c642307c5f7420c9fb488887d58584ab49d7321d36877c63e42efd077",
    "alarm": "f810fa19e9e67a6b8ccb03ba939f7b15b23f04a4153c48b09a144d2f1daefae0",
    "alarm+slack": "b9c2af8fb80bb49d363305d2f0975c03582ec07f213a6b9108285834c79097db",
    "both": "90e254eb5034e1c65900b6298807b40372201785371eccd03165b92e7c9a06de",
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
