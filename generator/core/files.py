"""Writing files: atomic writes, whole directories, and byte-reproducible zips.

Both writes are atomic: everything goes to a temporary sibling first and is renamed
into place only when complete, so an error leaves no half-written directory and an
existing zip untouched.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
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


# What decides that an existing file is flowstack's own: a signature its first bytes start
# with (b"PK\x03\x04"), or a test on its first `_HEAD` bytes (a chart's mark).
Owner = bytes | Callable[[bytes], bool]
_HEAD = 4096


@dataclass(frozen=True)
class Snapshot:
    """A file as a caller read it: identity (device, inode, size, mtime) and bytes. `write_file`
    replaces the file only if it is still exactly this just before the swap."""

    ident: tuple[int, int, int, int]
    data: bytes

    @classmethod
    def of(cls, fd: int) -> Snapshot:
        st = os.fstat(fd)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return cls(_ident(st), b"".join(chunks))


def _ident(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def write_file(data: bytes, dest: Path, mode: int = FILE_MODE, *, replaces: Owner | None = None,
               expect: Snapshot | None = None) -> Path:
    """Write ``data`` to ``dest`` atomically: the one writer every file of flowstack goes through.

    A unique temporary sibling (mkstemp: O_EXCL, never follows a planted link) is written,
    synced and renamed into place. ``dest`` may be replaced only when it is a regular file that
    is flowstack's own (``replaces``: its signature or test; ``None``: the caller has decided,
    as `init --force` does), or exactly ``expect``; a device node, FIFO, socket, directory,
    empty file or link to any of them is refused, and a symbolic link to flowstack's own file
    is written through. Just before the swap ``dest`` is checked again: if it changed (or
    appeared), nothing is replaced. Any failure leaves no temporary file."""
    dest = _final_target(Path(dest))
    before = _check_replaceable(dest, replaces, expect)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            if before is None:
                swap.rename_noreplace(Path(tmp), dest)
            else:
                _still(dest, before, expect)
                os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except FileExistsError:
        raise PackageError(f"cannot write {dest}: a file appeared there while writing; nothing was changed") from None
    except OSError as exc:
        raise PackageError(f"cannot write {dest}: {exc.strerror or exc}") from None
    return dest


def _final_target(dest: Path) -> Path:
    """``dest``, or the file a symbolic link there ends at (checked like ``dest`` itself); a
    dangling link is refused: writing there would create a file wherever the link points."""
    if not dest.is_symlink():
        return dest
    target = Path(os.path.realpath(dest))
    if not os.path.lexists(target):
        raise PackageError(f"cannot write {dest}: it is a symbolic link to {target}, which does not exist; "
                           "nothing was changed. Give the file's own path, e.g. -o dist/stack.zip")
    return target


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def _kind(st: os.stat_result) -> str | None:
    """What a non-regular file is ("a FIFO"...), None for a regular file."""
    return next((name for test, name in _KINDS if test(st.st_mode)), None if stat.S_ISREG(st.st_mode) else "not a regular file")


def _check_replaceable(dest: Path, owner: Owner | None, expect: Snapshot | None) -> os.stat_result | None:
    """The stat of an existing ``dest`` that may be replaced, None if missing; `PackageError` otherwise."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PackageError(f"cannot write {dest}: {exc.strerror or exc}") from None
    kind = _kind(st)
    if kind == "a directory":
        raise PackageError(f"cannot write {dest}: it is a directory; give a file name such as {dest / 'stack.zip'}")
    if kind is not None:
        raise PackageError(f"cannot write {dest}: it is {kind}, not a file flowstack wrote; nothing was changed. "
                           f"Give a regular file's path, e.g. -o dist/{dest.name or 'stack'}.out")
    if expect is not None:
        _still(dest, st, expect)
    elif owner is not None and not _owned(dest, owner):
        what = "a zip" if isinstance(owner, bytes) and owner.startswith(b"PK") else "a file flowstack wrote"
        empty = "empty and " if st.st_size == 0 else ""
        raise PackageError(f"cannot write {dest}: it exists and is {empty}not {what} (flowstack replaces only its own files); "
                           "nothing was changed. Choose another name")
    return st


def _owned(dest: Path, owner: Owner) -> bool:
    try:
        fd = os.open(dest, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise PackageError(f"cannot write {dest}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, _HEAD)
    finally:
        os.close(fd)
    if isinstance(owner, bytes):
        return bool(head) and head.startswith(owner)
    return bool(head) and owner(head)


def _still(dest: Path, before: os.stat_result, expect: Snapshot | None) -> None:
    """Refuse if ``dest`` is no longer the file that was checked (or read, for ``expect``)."""
    try:
        fd = os.open(dest, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        raise PackageError(f"cannot write {dest}: it changed while flowstack worked on it; nothing was changed. Run the command again") from None
    try:
        now = Snapshot.of(fd) if expect is not None else None
        ident = now.ident if now is not None else _ident(os.fstat(fd))
    finally:
        os.close(fd)
    wanted = expect.ident if expect is not None else _ident(before)
    if ident != wanted or (expect is not None and now is not None and now.data != expect.data):
        raise PackageError(f"cannot write {dest}: it changed while flowstack worked on it (another program wrote it); "
                           "nothing was changed. Run the command again")


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
    if dest.is_symlink():
        # A link to flowstack's own output directory is written through (the swap happens at
        # the real directory); a link to anything else is refused by the checks below.
        dest = Path(os.path.realpath(dest))
        if not dest.is_dir():
            raise PackageError(f"cannot write {dest}: -o names a symbolic link that does not end at a directory; "
                               "nothing was changed. Give a new directory such as -o build/<name>")
    if os.path.lexists(dest) and not stat.S_ISDIR(os.lstat(dest).st_mode):
        kind = _kind(os.lstat(dest)) or "a file"
        raise PackageError(f"cannot write {dest}: it exists and is {kind}, not a directory; nothing was changed. "
                           "Give a new directory such as -o build/<name>")
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
        fd = os.open(dest / MARKER, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None  # missing, or a link: no marker of flowstack's
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None  # a FIFO or device planted as the marker is not one
        text = os.read(fd, 1 << 22).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)
    return {ln for ln in text.splitlines() if ln and not ln.startswith("#")}


def _present(dest: Path) -> set[str]:
    out: set[str] = set()
    for root, dirs, names in os.walk(dest):
        rel = Path(root).relative_to(dest)
        out.update(str(rel / n) if str(rel) != "." else n for n in names)
        out.update(str(rel / d) + "/" for d in dirs if not os.path.islink(Path(root) / d) and not os.listdir(Path(root) / d))  # empty dirs count
        out.update(str(rel / d) for d in dirs if os.path.islink(Path(root) / d))  # a link to a directory is an entry
    return out - {MARKER}


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _refuse_foreign(dest: Path) -> None:
    """Refuse to replace a directory holding anything flowstack did not write there."""
    if not dest.is_dir():
        return
    present = _present(dest)
    if not present and not (dest / MARKER).exists():
        return  # an empty directory
    owned = owned_files(dest) or set()
    # A listed name that is no longer a regular file (a FIFO, a device node, a link planted
    # there) is not flowstack's: the swap would take it away.
    foreign = sorted((present - owned) | {name for name in present & owned if not _regular(dest / name)})
    if owned_files(dest) is None or foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise PackageError(
            f"cannot write {dest}: it holds files flowstack did not write ({shown or 'no ' + MARKER}); "
            "nothing was changed. Choose a new or empty directory, e.g. -o build/<name>"
        )
