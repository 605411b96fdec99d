"""Swapping two directories in one step, so a path never points at nothing.

Linux's renameat2(RENAME_EXCHANGE) exchanges two paths atomically: at every instant the
target holds either the old or the new tree, even if the process is killed. Where the call
is missing (other kernels, old glibc) the fallback is two renames with a roll-back; that
leaves a window between them, which is said here rather than hidden.

>>> callable(exchange)
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from pathlib import Path

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2


def _libc_renameat2() -> object | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _libc_renameat2()


def atomic_exchange_available() -> bool:
    """True when this system swaps two paths in one atomic step."""
    return _RENAMEAT2 is not None


def exchange(a: Path, b: Path) -> None:
    """Swap the directory entries ``a`` and ``b`` (both must exist).

    >>> import tempfile; d = Path(tempfile.mkdtemp()); (d / "x").mkdir(); (d / "y").mkdir()
    >>> (d / "x" / "f").touch(); exchange(d / "x", d / "y"); sorted(p.name for p in (d / "y").iterdir())
    ['f']
    """
    if _RENAMEAT2 is not None:
        rc = _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)  # type: ignore[operator]
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL):  # EINVAL: the file system cannot exchange
            raise OSError(err, os.strerror(err), str(b))
    _two_renames(a, b)


def _two_renames(a: Path, b: Path) -> None:
    """Fallback: b -> aside, a -> b, aside -> a. A kill between the first two leaves b missing."""
    aside = b.with_name(f".{b.name}.aside-{os.getpid()}")
    os.rename(b, aside)
    try:
        os.rename(a, b)
    except BaseException:
        os.rename(aside, b)
        raise
    os.rename(aside, a)


def rename_noreplace(a: Path, b: Path) -> None:
    """Rename ``a`` to ``b`` only if ``b`` does not exist (FileExistsError otherwise), in one step:
    a file that appears at ``b`` after a check is never replaced."""
    if _RENAMEAT2 is not None:
        rc = _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_NOREPLACE)  # type: ignore[operator]
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(err, os.strerror(err), str(b))
    if os.path.isdir(a):
        if os.path.lexists(b):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(b))
        os.rename(a, b)  # a directory cannot be hard-linked: the check above leaves a small window
        return
    os.link(a, b)  # fails if b exists
    os.unlink(a)
