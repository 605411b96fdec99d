"""Writing files: atomic writes, whole directories, and byte-reproducible zips.

Both writes are atomic: everything goes to a temporary sibling first and is renamed
into place only when complete, so an error leaves no half-written directory and an
existing zip untouched.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from generator.core import swap
from generator.core.errors import PackageError

# A fixed timestamp (the earliest a zip can hold) and mode make two builds byte-identical.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """The stack zip: files at the root in the given order, fixed time and mode."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode bits below are read
            info.external_attr = (0o100000 | FILE_MODE) << 16
            z.writestr(info, data, compresslevel=9)
    return buf.getvalue()


def write_file(data: bytes, dest: Path, mode: int = FILE_MODE, *, replaces: bytes | None = None) -> Path:
    """Write ``data`` to ``dest`` atomically (temp file in the same directory, then rename).

    With ``replaces`` (a file signature such as ``b"PK"``), an existing ``dest`` that does not
    start with it is refused: `zip -o notes.txt` must not overwrite the user's notes."""
    dest = Path(dest)
    _refuse_foreign_file(dest, replaces)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise PackageError(f"cannot write {dest}: {exc.strerror or exc}") from None
    return dest


def _refuse_foreign_file(dest: Path, signature: bytes | None) -> None:
    if signature is None or not dest.exists():
        return
    if dest.is_dir():
        raise PackageError(f"cannot write {dest}: it is a directory; give a file name such as {dest / 'stack.zip'}")
    try:
        with dest.open("rb") as f:
            head = f.read(len(signature))
    except OSError as exc:
        raise PackageError(f"cannot write {dest}: {exc.strerror or exc}") from None
    if head and head != signature:
        kind = "a zip" if signature.startswith(b"PK") else "a file flowstack wrote"
        raise PackageError(f"cannot write {dest}: it exists and is not {kind} (flowstack replaces only its own files); "
                           "nothing was changed. Choose another name")


# The file that proves a directory is flowstack's output: it lists every file flowstack wrote
# there, so a later write may replace exactly those and nothing the user put beside them.
MARKER = ".flowstack-output"
_MARKER_HEAD = "# written by flowstack; it replaces this directory only while it holds just these files\n"


def write_tree(files: dict[str, bytes], dest: Path, modes: dict[str, int] | None = None) -> Path:
    """Write ``files`` into directory ``dest``, replacing it whole or not at all.

    ``dest`` must be missing, empty, or flowstack's own earlier output (its marker lists every
    file in it); a directory holding anything else is refused, never deleted. The new tree is
    swapped in with one atomic exchange, so ``dest`` holds the old or the new tree at every
    instant. ``modes`` gives a file its permissions (default 0644).

    >>> write_tree({"main.tf": b"x"}, Path(tempfile.mkdtemp()) / "out").name
    'out'
    """
    dest = Path(os.path.abspath(dest))
    if dest.exists() and not dest.is_dir():
        raise PackageError(f"cannot write {dest}: it exists and is not a directory")
    if Path.cwd().resolve().is_relative_to(dest.resolve()):
        raise PackageError(f"cannot write {dest}: it is the directory you are in (or holds it); give a new directory such as -o build/<name>")
    try:
        _refuse_foreign(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
        try:
            _fill(tmp, files, modes or {})
            if dest.exists():
                swap.exchange(tmp, dest)  # tmp now holds the old tree
            else:
                os.rename(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise PackageError(f"cannot write {dest}: {exc.strerror or exc}") from None
    return dest


def _fill(tmp: Path, files: dict[str, bytes], modes: dict[str, int]) -> None:
    for name, data in files.items():
        target = tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, modes.get(name, FILE_MODE))
    listing = "".join(f"{name}\n" for name in sorted(files))
    (tmp / MARKER).write_text(_MARKER_HEAD + listing, encoding="utf-8")
    os.chmod(tmp, 0o755)


def owned_files(dest: Path) -> set[str] | None:
    """The files flowstack's marker in ``dest`` lists, or None when there is no marker."""
    try:
        text = (dest / MARKER).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
    return {ln for ln in text.splitlines() if ln and not ln.startswith("#")}


def _present(dest: Path) -> set[str]:
    out: set[str] = set()
    for root, dirs, names in os.walk(dest):
        rel = Path(root).relative_to(dest)
        out.update(str(rel / n) if str(rel) != "." else n for n in names)
        out.update(str(rel / d) + "/" for d in dirs if not os.listdir(Path(root) / d))  # empty dirs count
    return out - {MARKER}


def _refuse_foreign(dest: Path) -> None:
    """Refuse to replace a directory holding anything flowstack did not write there."""
    if not dest.is_dir():
        return
    present = _present(dest)
    if not present and not (dest / MARKER).exists():
        return  # an empty directory
    owned = owned_files(dest) or set()
    foreign = sorted(present - owned)
    if owned_files(dest) is None or foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise PackageError(
            f"cannot write {dest}: it holds files flowstack did not write ({shown or 'no ' + MARKER}); "
            "nothing was changed. Choose a new or empty directory, e.g. -o build/<name>"
        )
