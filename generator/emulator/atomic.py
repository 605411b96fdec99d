"""The emulator's one file writer (its state file, demo credentials).

The emulator imports nothing else of flowstack (tests/package/test_layers.py), so this mirrors
`generator.core.files.write_file` for its own files: a unique temporary sibling (mkstemp: O_EXCL,
mode 0600 from the start, never following a planted link), fsync, the final mode, one rename;
an existing target that is not a regular file (a link, device, FIFO, directory) is refused.

>>> import tempfile; p = Path(tempfile.mkdtemp()) / "x"; write_atomically(p, b"1"); p.read_bytes()
b'1'
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import EmulatorError


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` whole or not at all; `EmulatorError` for a target that is not a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise EmulatorError(f"cannot write {path}: it exists and is not a regular file (a link, device, FIFO or directory); "
                            "give a path to a new or regular file")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
