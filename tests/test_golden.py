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
REFERENCE_ZIP_SHA256 = "f2798912d7d32e27eadc94f8efc9ecadd9af39bde0787fe4196e0dbd6f617b05"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "7237bfc10e09546a90485e49242297189ac4548cfef61fe820916130d33db7da",
    "tls-internal": "d68ac51d3742359f19fdd06dd50b845e271f02a5a7b548e82562e49abcde3fb3",
    "tls-cloudflare-origin": "5bfb960818b0fb76820a643bc555a5b539694b2ea3c95816166c669e29f8f34a",
    "socket-image": "98395d57135a87346808e01ccc3f6be13f55336415de904fc6c5796a02e4f30d",
    "turn-via-caddy": "90953c284d487743c1e6d55062bf72721c7d78bc5f0e5d49d60ea570ad8a343e",
    "turn-via-caddy-internal": "506e9c5e5568fba82cebf879dda6c8eb369c7465ed121b8f38d611c807b6114b",
    "socket-git-url": "ed38b13c6f1a5e002a542e08dce8d2eb2aa848fbcb9280e309d47363759af924",
    "ephemeral-ip": "2707a358e77fdb396271285b5155de90ed50c8729abcf3f9fc8e8db6a22c32f2",
    "secret-env": "9ed4aa55c598effe551ff70474e31d81e4a497d27732b369c78ed799f8414adf",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "3cd70bd2ec9005eac6a7ac2aa50f4b901e6a6b20323f15a656777e4f6a2eea08",
    "tls-internal": "9ab6e9fd3d40815753c6173ab5e098985bd73cfc3ad822a01bfdb1305b8bb13c",
    "tls-cloudflare-origin": "72f5d1f3237d344ea2d271202921302478f609a7cca041c2d298a82d8efe41df",
    "socket-image": "7ab64792f89a4b3342660df177231a89d388e45d44652b603e33300d99727de6",
    "turn-via-caddy": "9f572966011341280adf003f5646e8e98baaa81d116d384aa4a71958e8d2cb83",
    "turn-via-caddy-internal": "533576cda04b87eb9edc751ce13c16934c822234e197646af52fecf8b48b5de3",
    "socket-git-url": "2785b8a6bcea3fe9c7637d07a5d50c326f411e348973a750cc2a9f3874172a71",
    "ephemeral-ip": "3cd70bd2ec9005eac6a7ac2aa50f4b901e6a6b20323f15a656777e4f6a2eea08",
    "secret-env": "631d439a9ba669306c1aef42f6a02e41d27ec9be6fb3ceb03240c09ad2161f67",
}
ALERT_SHA256 = {
    "budget": "0bfdeee57329e9ce13c650484d67729be4ba490d202f848eca15cdf098a154b7",
    "alarm": "1a83a8ddaad77910a0ada17695c2637d2a2653f22f922d0aad7a4563556707e3",
    "alarm+slack": "8dbd23411e4346cd08b7265edbcb7c02822eed75774e634ede3203fc538debc5",
    "both": "3cc8bc9d77660f52aaf7a0672ff65b572e828add1f2bfb21a71a6b133f5f7cd0",
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
