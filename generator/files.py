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

from .errors import PackageError

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


def write_file(data: bytes, dest: Path, mode: int = FILE_MODE) -> Path:
    """Write ``data`` to ``dest`` atomically (temp file in the same directory, then rename)."""
    dest = Path(dest)
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


def write_tree(files: dict[str, bytes], dest: Path, modes: dict[str, int] | None = None) -> Path:
    """Write ``files`` into directory ``dest``, replacing it whole or not at all.

    ``modes`` gives a file its permissions (default 0644)."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise PackageError(f"cannot write {dest}: it exists and is not a directory")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            for name, data in files.items():
                target = tmp / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                os.chmod(target, (modes or {}).get(name, FILE_MODE))
            os.chmod(tmp, 0o755)
            old = None
            if dest.exists():
                old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
                os.replace(dest, old)
            os.replace(tmp, dest)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except OSError as exc:
        raise PackageError(f"cannot write {dest}: {exc.strerror or exc}") from None
    return dest
