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
REFERENCE_ZIP_SHA256 = "fd24a98df57c9e654e070b574fca895465631c5a9ecb883a035fe7b875d27294"

# sha256 over "name\0bytes\0" of each rendered file, in stack order.
VARIANT_SHA256 = {
    "reference": "c840408ea7f4143255e2cb274ae80efcb64293ec136aa3fe0258302acce54ed6",
    "tls-internal": "6dc5cd574cd2047f819430f1beb961403878d65a9ff03721f012fd0baa9c51bc",
    "tls-cloudflare-origin": "cc87e4954a78f26387fde2f8a0952d71aec6fe34b1632a5da9facd31b4b43ef7",
    "socket-image": "96f38812949bde3592b7b32c74ed2bf37c8db0eb60273feac8e6206302d0fbdf",
    "turn-via-caddy": "879790b7a56c3ce075accfd456c7651a17e60c11fe5e25f0d81f8474ca4ed85b",
    "turn-via-caddy-internal": "ad404c95be80098f02912f8d2db71f90ccb3515dcedce29ed017f6f89694d696",
    "socket-git-url": "a7d25736027bcc407ba696deda3ba4bdbb23fa0d074c3d3300d2f875ed12a71a",
    "ephemeral-ip": "808111ca115ffef14b5c191913238afdce4cb54c23ef2cd4fc16648b9cab5f66",
    "secret-env": "8b2cc5c61e1eed85a82431f3c899cb05ac115adbc81437c7bc730eaa789eff4d",
}
# The same over `flowstack preview --sample` (every server file, cloud-init decoded).
PREVIEW_SHA256 = {
    "reference": "dc6648bf67f64f242634ecb4c3f9f40ee8b9e040e520c22e35ddd20f902a79d3",
    "tls-internal": "89ee8c876e01fcf05e90ffb1adcf99c3a73dce0b4afda523ad0f52fe248628b6",
    "tls-cloudflare-origin": "f35a07093e43821d7b9d2213e1b54c69668ed59bfaa9de52757455305b2ac343",
    "socket-image": "a039fdd2dd102333d41c2bd9a4e7e67c047585e7785ff3be6e773b9ffeec9c5e",
    "turn-via-caddy": "40b7311566862bfacab752b6cb3964ae74a21efa7c9b51c2298226426d4eb687",
    "turn-via-caddy-internal": "1c5dc5fad6d9a0d748e290e80535aa82b6fdb30d577285989b7da3b782c94d88",
    "socket-git-url": "a691e78fbb36f0f95389ca41ee15884562b98b40691657f151a24b1d0055e313",
    "ephemeral-ip": "dc6648bf67f64f242634ecb4c3f9f40ee8b9e040e520c22e35ddd20f902a79d3",
    "secret-env": "a59d6356d816496071a02552fd258971e712b34ac8656c7f3ddee0c089bab55c",
}
ALERT_SHA256 = {
    "budget": "4171a59d1e09453cb658afc937b8c55cb7e2a150187f4a1ca1003f1f8a778e56",
    "alarm": "d0a2aad066d824eac203a24ba34dc0db8ac10c3891c7ddea788b7b1c5db516a9",
    "alarm+slack": "084ee7795bfcd2d5a8fe9b32afd5089d5ff7f011c4b831005aa8fb6feaed4334",
    "both": "2150e696a36e9356d331998284f0b859d86fa2ea342700d02c88f417a3678c20",
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
