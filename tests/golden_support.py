"""Readable goldens: generated files stored under tests/golden/, compared byte for byte.

Each golden is a folder holding the generated files as they are (``files/...`` paths of a
preview keep their layout) and a ``MANIFEST`` listing the names in generation order, so a
change to a template shows as a diff of the file it changes. ``make golden`` (pytest
``--update-goldens``) rewrites the folders; review the diff and commit it with the change.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"
MANIFEST = "MANIFEST"


def _stored_name(name: str) -> str:
    # Absolute paths (a preview's "files//opt/...") stay readable and inside the folder. Key and
    # certificate files get a .golden suffix: the repository stores no .pem/.key files (what the
    # generator writes there is a placeholder or a marked sample, never a real key).
    stored = name.replace("//", "/").lstrip("/")
    return stored + ".golden" if stored.endswith((".pem", ".key", ".crt")) else stored


def write(folder: Path, files: dict[str, bytes]) -> None:
    """Replace ``folder`` with ``files`` and their order."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in files.items():
        path = folder / _stored_name(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (folder / MANIFEST).write_text("".join(name + "\n" for name in files), encoding="utf-8")


def _diff(name: str, want: bytes, got: bytes) -> str:
    try:
        a, b = want.decode("utf-8").splitlines(keepends=True), got.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return f"{name}: binary content differs ({len(want)} -> {len(got)} bytes)\n"
    return "".join(difflib.unified_diff(a, b, f"golden/{name}", f"generated/{name}", n=2))


def compare(folder: Path, files: dict[str, bytes], update: bool) -> None:
    """Assert ``files`` equal the golden in ``folder`` (or rewrite it when ``update``)."""
    if update:
        write(folder, files)
        return
    rel = folder.relative_to(GOLDEN)
    assert (folder / MANIFEST).is_file(), f"no golden {rel}: run `make golden` and review the new files"
    names = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    problems = []
    if names != list(files):
        problems.append(f"file list or order differs:\n  golden:    {names}\n  generated: {list(files)}\n")
    for name, data in files.items():
        path = folder / _stored_name(name)
        want = path.read_bytes() if path.is_file() else b""
        if want != data:
            problems.append(_diff(name, want, data))
    assert not problems, f"golden {rel} differs (run `make golden` if on purpose):\n" + "".join(problems)[:20000]
