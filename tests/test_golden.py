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
REFERENCE_ZIP_SHA256 = "3b1738ae6e24dbe5334ca875255314d3ea5e8564569a6aba8ec30d6d815c607e"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "bc904a6d609f489a652f6d953bbc090b7249cac58e600ae8f104659bb7950c72",
    "tls-internal": "e5e3ae45bc94c1a43fd4ef978c6c5c8cdb69d89589583f66e56d5716200e943e",
    "tls-cloudflare-origin": "2208373af6351397dbba8f2ea8974bab0e94f60d2850626656ce31c793049e42",
    "socket-image": "b1b23c74f528b61720104cb190f4a51ecbd7503e3361be80b0122578a9b4537f",
    "turn-via-caddy": "bbdfbe72a8b15121fa12f38c43e014545a1e5a102705c769ff2a527d496a9712",
    "turn-via-caddy-internal": "12d0cc9b7e772ccb3e3aaccb895c151ffc550ceddb80e4c1eef961ac5abc9483",
    "socket-git-url": "b9717684b0149490b0d4e36de4cf72ff8f3f1d2aab8ebda32422eb16a3fc4d5f",
    "secret-env": "c184f34dbba8b1699510fd7c97ada5103e595d6b7bca5e3d771ca0534afba4cf",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "a7c08be3885cc9bc0fe5f0e6e6176229ff0b5446095b8b3ceeb48c33c62bfb5b",
    "tls-internal": "6de8db62518a868111c926fc2f14e79410f614c30ca5a86af7e9e7d776a1355f",
    "tls-cloudflare-origin": "8b254d529a3b22c25954de16f2726d8082f3875c53ba3a9298aeb08f33b21dd0",
    "socket-image": "70a20f846ae06c272fd42bfac033f44e6665907d9e2d1723569f0cfb91e5b847",
    "turn-via-caddy": "7ce2fcbe5601db060e5943de9d6439bb66bd9ba989c50cef5b6a840b4314062b",
    "turn-via-caddy-internal": "c8859556ef1c85577be887cf4d8278bc982f1f27a5e0810c123ce64959c1dc86",
    "socket-git-url": "0bda53987d5813121d2e33d20cbb7e0f374e09cc91e2c78ef789493a8f94c3e7",
    "secret-env": "2df3365ad34804f4ef1c3e0c99e0a420e18151ae9a8d7e17155f6e4d1a1b9bfa",
}
ALERT_SHA256 = {
    "budget": "31735cb308b1acffdb3538525decec9728726a134dfb63e462954989a392a3be",
    "alarm": "576154f04bf374cd9d167b4831c98539a46b593b37ac6d77cb413e8949590c9b",
    "alarm+slack": "87549d0f71f16abc9d465cad1981ef39502bf8e5515856d0c64938c44815d268",
    "both": "71cf7c7136d742264414bf6ce1d30c101c2089ab9ff369c47bca045e1e75f1e0",
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
