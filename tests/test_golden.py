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
REFERENCE_ZIP_SHA256 = "390399162852ebecdc9f6792e1326cd55519bf6422c10661c75aad9993754a50"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "ba76aa5536b4a390005cd4e4865ef9ecf960337b8e371119e427847ecb9e67c3",
    "tls-internal": "4e6b063153c4ec2b568241836b61a7dd4929a3a9421d422034dcfd3b8fd82adb",
    "tls-cloudflare-origin": "8b6226fcb175c93444ffa517bc54167cb3cc74ce6d7f16592c0d394410b6a1a9",
    "socket-image": "1f39ea00007684b4b42b499dd24024b01a7ebd695ec023ac6b6ea8135215103b",
    "turn-via-caddy": "4c60eda53eb8710f52faa63637c16d032dd50d969d65bead3319db6ce985911b",
    "turn-via-caddy-internal": "af6a8947aa8420f5e5e4c7ff64839c7f4aa863a56f5384fb9b4617580230a5ab",
    "socket-git-url": "dff07013b82ff4ff1acd49887e5009e350388bbb6e2125e219514bf56f558b6b",
    "secret-env": "dc84b9784c740318141b081e6a290e2b50c47019cb2e8aabee4f2d1f33e625df",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "329ef831b3a7a55c782f8becb3845bd873a1e476826a663029827bb13f127829",
    "tls-internal": "c1023b96fc93f1129de5995ecec88f31496d2338297f149fa91b51e63be70fd3",
    "tls-cloudflare-origin": "0fd23e3a651911ace93adfeab0b7883d250402dbbd78091fee8a030e49a90c25",
    "socket-image": "3cc40d93e3f5d5fb8ef72dd34834932f0bcfb266da04129b7c14ec5377d3aee4",
    "turn-via-caddy": "861aec4e2794d541b730044f445dcc63d9fdd98c35b84c76c680ca38143dd391",
    "turn-via-caddy-internal": "c1023b96fc93f1129de5995ecec88f31496d2338297f149fa91b51e63be70fd3",
    "socket-git-url": "f216bf0fc25d6a94f06a9ac0c74b6dce8d1f28e19183d79c47243e18b4a26337",
    "secret-env": "329ef831b3a7a55c782f8becb3845bd873a1e476826a663029827bb13f127829",
}
ALERT_SHA256 = {
    "budget": "126211d93532a587166ce35912cda1c182505dc6b9c90d078a0129d7c066161c",
    "alarm": "b964d3ee1985d100419afb7dcdb135ca94cca786cdafe547c94194a76741dffb",
    "alarm+slack": "e2eaabe92920b40490cb59dfba21230570fa77f899658beaf1a6d418198cc65a",
    "both": "e9c6389b690a97e88c3720921259870148e0a3d134b5b1ea484ada9feb5eb1a0",
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
