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
REFERENCE_ZIP_SHA256 = "7cd0a33b7c2c263867751220b288e2d644c65f2da8071c249bb1543cc9d9b397"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "e6127722e57a351ebba494f4e52416ab507a85130cb6966cdc1a4c06e0d015b1",
    "tls-internal": "33a949cceacb6ec45bbc40063d3526b5f88b429a95b3c54834c0ba7a30a4a7a9",
    "tls-cloudflare-origin": "273dddbf99282cda455f38945195d0298d9e693834fe0aa17ab97be2ce61e4ee",
    "socket-image": "cdf07cec9ce38a60d775445323b99ca96cc360549d26149dc593a838ce308947",
    "turn-tls": "a6121cbd3eea2f85a5680b6274a3237e5c5b07e8b6afe00086db8ab3ddcb8fb0",
    "turn-tls-internal": "42d02093de7907cb7b5c46686b87b3a694424eb22e8b8e2a5313b8d8b87dac91",
    "turn-tls-cloudflare-origin": "7457faca97bca62808b5695b36b14f49f3a8320ea37bcf47f3ecff5aca00c62e",
    "turn-via-caddy": "c8929c785c9fbcf5c4971ae902a38e2ab9e0ee5be46794e56a188c5dc620099f",
    "turn-via-caddy-cloudflare-origin": "dcf6632e220d844a38796f9910d714a40e42f6f4a4d675d12ff7baa8578ae7a6",
    "turn-via-caddy-internal": "3d6ca78645b0fe4be3484e1bc4909b25ebc7c20bf67551992a8ef418e3fa27d0",
    "secret-env": "094a703af9e754ade85fc0cacdf495961013794c31e7544537e6b5b0d5929550",
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
    "budget": "2f837738f98a76290638f5cf06e5ffc7a430be652149c0a0e7f2ab8736601a6a",
    "alarm": "36f3fe766d2f2d802db66afb0285e0364b5cb7d860cca6dcf93ae41d4e5cf100",
    "alarm+slack": "f4b4abeb0b2bba94f8986c5f49d37eec39621a9b13928e0e26164c25771c1a15",
    "both": "0feb96b41b9918a2a7df8cc380bf37dd3d50b85fecc016c974cb79080f206697",
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
