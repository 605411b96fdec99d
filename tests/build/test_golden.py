"""Golden bytes: the reference zip and every variant's rendered stack, stored readable.

The generated files live under tests/golden/ (golden_support.py says how), so a change that
alters output shows as a diff of the files it changes. A change on purpose re-writes them with
``make golden`` (pytest ``--update-goldens``) in the same commit and says why in its message.
The layout move of issue 24 kept every one of these byte-identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from golden_support import GOLDEN, compare
from test_alerts import MODES, ON, render
from test_server_files import VARIANTS
from variants import make_config

from generator.build.preview import preview_files
from generator.cli import cli
from generator.emit.render import render_stack

ROOT = Path(__file__).resolve().parents[2]


def zip_listing(data: bytes) -> bytes:
    """What a zip holds besides its members' bytes: order, times, modes, compression, and the
    digest of the whole archive (the container bytes themselves are not readable)."""
    lines = [f"sha256 {hashlib.sha256(data).hexdigest()}"]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for i in z.infolist():
            lines.append(f"{i.filename} {i.date_time} mode={i.external_attr >> 16:o} compress={i.compress_type} size={i.file_size}")
    return ("\n".join(lines) + "\n").encode()


def test_reference_zip_is_byte_identical(tmp_path: Path, update_goldens: bool) -> None:
    out = tmp_path / "ref.zip"
    r = CliRunner().invoke(cli, ["zip", str(ROOT / "stacks" / "flowspace.yaml"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    compare(GOLDEN / "reference" / "zip", {**members, "ZIP-LISTING": zip_listing(data)}, update_goldens)


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_stack_is_byte_identical(name: str, update_goldens: bool) -> None:
    files = render_stack(make_config(VARIANTS[name]), dt.date(2026, 12, 1))
    compare(GOLDEN / name / "stack", files, update_goldens)


@pytest.mark.parametrize("name", MODES)
def test_alert_stack_is_byte_identical(name: str, tmp_path: Path, update_goldens: bool) -> None:
    files = {k: v.encode() for k, v in render(tmp_path, MODES[name], ON).items()}
    compare(GOLDEN / f"alerts-{name}" / "stack", files, update_goldens)


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_preview_is_byte_identical(name: str, update_goldens: bool) -> None:
    files = preview_files(make_config(VARIANTS[name]), sample=True)
    compare(GOLDEN / name / "preview", files, update_goldens)
