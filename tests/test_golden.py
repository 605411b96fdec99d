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
REFERENCE_ZIP_SHA256 = "aa738b7bc30b0121605ba446ac25b9981d1d338b6ba6e49eefa9787f613b5bcc"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "1eef0fde451b838e331a44421e77bc8545db76a270c65c75e154b4ff2db646b0",
    "tls-internal": "f027a8c648de49988289f7dbab990bdf2e8c52824fc9bc2d41f325b741f16c4d",
    "tls-cloudflare-origin": "5f09990937780d6f18f815dea281050b6ff28cb71c501921ff432eca8dd8dc55",
    "socket-image": "c1b8ed7b66001e54fb94e02a1bc3d3c348902f6a354bd3ee70bdd3b84baa14dc",
    "turn-via-caddy": "7589aa4f3a00fa6c1eeda880117c9438d43b1814653a9533e5d3ceb7ad666270",
    "turn-via-caddy-internal": "9d77aa9e0b36a294ab0e70af7fe25c91a066614d772fa7f56613187ddea8a81f",
    "socket-git-url": "0c6c460aa1978fdf190b016b162e6fce20b8e75901f04a99b1bf2133d51fea30",
    "ephemeral-ip": "4888e941fd08d7fb761353c219b720fe2bb83af9f8f839d1b99f4a42f983ffd3",
    "secret-env": "cb21e03bc25766114ac5903f4ee416d7c12ed1b593b06ec9983a8444aa382857",
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
    "budget": "5065dafc0e97c6845d2a478b3cae8267d837dd8b66bd252a0f715b1cd6f4380d",
    "alarm": "d92aea6e8ffe8e93766eb3f0ea3a2dc78e8f2fedd6907e10f9bce26d4ba21a53",
    "alarm+slack": "24544aa7be79bcbe71dedb9413f9e30ab137f4db979e6f4e863a14d676c8247d",
    "both": "184e5430381187a8a4ffb82c4ad730cad10ecb1f056c5a3946476e0a72428a57",
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
