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
REFERENCE_ZIP_SHA256 = "c0abdfaeb77fe1eac8e49a278567d7ae4ae4c292421c612cda8e6743919266e2"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "dfb5441bb6b3b8fc884b592998e5d91dbf57c9e5b92adc8ef5187ffc94447d6e",
    "tls-internal": "e6d21fd585164a052e0ea54a9080c9f7a2aa6a5c08bd5b7b42d79ec704b4863b",
    "tls-cloudflare-origin": "42c53a09af868059233d735fdf3b8ac91067231810e273abbe1fbe8c1a11f088",
    "socket-image": "ea0d3819ac6d61cf361b8ef2ec61b20459d99c5eb09e93f9a3f861cd19134ccf",
    "turn-via-caddy": "b3ac07051a1c028cd7164b00958f7e15cba254788b54c77b073c83cfb3425cb9",
    "turn-via-caddy-internal": "26286af8b566947910990ca8e376ea3f513e962e7c34ac7ff5d76cf65e94fad4",
    "socket-git-url": "03748d23deb68c7f3f2b450dcddd5442cb60907ea0ebfe387fc562f821807dcf",
    "secret-env": "0d433e54b2e1a537a05ff12ef2ec838450416ce82b0f0b76b314440d645cb8d9",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "a724b34cf2fa68641ac67229f3c8fa94ec4f448be006e70b1211381ac552d0e9",
    "tls-internal": "0abba20b039f72c7a5777f816c8e91488365690e523b98d00148b8e7cdb241d2",
    "tls-cloudflare-origin": "e9cc614ec35f3c741fdc6aa78a88d39bb4bdb07effcac3ef9c168adf7ae09339",
    "socket-image": "174f463c3ca25b306a54e545c547ff67aefa133bc050710df1c6db6c2a58f496",
    "turn-via-caddy": "9e62dd0ac628606ee7ca428e795ff8ac9e0b899170fd21a82ac690d7163ab678",
    "turn-via-caddy-internal": "672cb65d600ee6cfb3f58999ab766a9f7b6f9799c8c61f7308506417c15a79a6",
    "socket-git-url": "1587833f31a39c585a54a07b3be2ce75c3edc09960bf476d45a461890ec61451",
    "secret-env": "b47d1b9eaf597a63aeea1fca6399e7fb8133e2c5ee1809273ad8f390e2dc9569",
}
ALERT_SHA256 = {
    "budget": "b31cdf6088440ff731b10868299ab9522c28825854c4fba44caabe0ca51f7405",
    "alarm": "43ec6c15e4239c53f1baad8b732707f193b40b2c8f24e15974c524bd54a60334",
    "alarm+slack": "fcca4650d0a02e6550d9905ff0b4996b086a13bf62ed3fcee87adfd47e3bb769",
    "both": "335f54c0a8801f0e367ff73a6a7390c868d45eb48caf71cbf34e8cb8e35f9690",
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
