"""`flowstack rotate-secret`: bump ``livekit.api_secret_version`` with a minimal edit of the config.

Terraform makes a new LiveKit API secret when that number changes (the ``keepers`` of
``random_password.livekit_api_secret`` in main.tf), so rotating is one edited number.  The
edit touches only that number, or inserts one line under ``livekit:`` (or appends a
``livekit:`` block): comments, order, quoting and line endings stay byte for byte.  A file
it cannot edit that way (a flow-style ``livekit: {...}``, an alias, several documents) is
refused with what to add by hand; nothing is written then.  The edited text is parsed again
and must mean the old config with only the version changed before it replaces the file
(atomically).

>>> plan_edit("name: a\\nlivekit:\\n  image: x:1 # pinned\\n", 1).text
'name: a\\nlivekit:\\n  api_secret_version: 2\\n  image: x:1 # pinned\\n'
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.config.load import parse_config
from generator.core.errors import ConfigError, ConfigNotFoundError
from generator.core.files import Snapshot, write_file
from generator.core.yamlguard import MAX_CHARS, compose_fast

FIELD = "api_secret_version"
FIELD_PATH = f"livekit.{FIELD}"
# What may follow `livekit` on its line when nothing is under it: the colon and a comment.
_EMPTY_REST = re.compile(r"[ \t]*:[ \t]*(#[^\r\n]*)?\r?")


@dataclass(frozen=True)
class Edit:
    """The new config text and what changed: ``line`` (1-based) was ``changed`` or ``inserted``."""

    text: str
    line: int
    how: str  # "changed" | "inserted" | "appended"


@dataclass(frozen=True)
class Rotation:
    """What `rotate_secret` did to the config file."""

    path: str
    old_version: int
    new_version: int
    edit: Edit


class _Refused(Exception):
    """The file cannot be edited safely; ``line`` is where (1-based) when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _by_hand(new: int) -> str:
    return f"add `{FIELD}: {new}` under `livekit:` by hand (as a block mapping: one key per line)"


def plan_edit(text: str, current: int) -> Edit:
    """The config text with ``livekit.api_secret_version`` set to ``current + 1``; `_Refused` if unsafe.

    >>> plan_edit("livekit:\\n  api_secret_version: 4  # rotated\\n", 4).line
    2
    """
    new = current + 1
    nl = _newline(text)
    if re.search(r"^(---|\.\.\.)(\s|$)", text, re.MULTILINE):
        raise _Refused("the file has YAML document markers (--- or ...)")
    root = compose_fast(text)  # libyaml's marks are character offsets too, like the pure parser's
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise _Refused("the top level is not a block mapping")
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "<<":
            raise _Refused("the top level uses a merge key (<<)", key.start_mark.line + 1)
        # Any scalar style: `"livekit":` and `'livekit':` are the same key as `livekit:`.
        if isinstance(key, yaml.ScalarNode) and key.value == "livekit":
            return _edit_livekit(text, key, value, current, new, nl)
    # No livekit block: append one at the end (the top level starts at column 0 here).
    if any(key.start_mark.column != 0 for key, _ in root.value):
        raise _Refused("the top-level keys are indented")
    tail = "" if text.endswith(("\n", "\r")) or not text else nl
    block = f"livekit:{nl}  {FIELD}: {new}{nl}"
    return Edit(text + tail + block, text.count("\n") + (1 if tail else 0) + 1, "appended")


def _edit_livekit(text: str, key: yaml.Node, value: yaml.Node, current: int, new: int, nl: str) -> Edit:
    line = key.start_mark.line + 1
    if value.start_mark.index < key.end_mark.index:
        raise _Refused("livekit is an alias of another mapping", line)
    if isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:null" and value.value == "":
        # `livekit:` with nothing under it: one line after it, indented two spaces.
        end = text.find("\n", key.end_mark.index)
        if end < 0 or not _EMPTY_REST.fullmatch(text[key.end_mark.index:end]):
            raise _Refused("livekit has an empty value written on one line", line)
        return Edit(text[: end + 1] + f"{' ' * (key.start_mark.column + 2)}{FIELD}: {new}{nl}" + text[end + 1:], line + 1, "inserted")
    if not isinstance(value, yaml.MappingNode) or value.flow_style:
        raise _Refused("livekit is not a block mapping (one key per line)", line)
    for k, v in value.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "<<":
            raise _Refused("livekit uses a merge key (<<)", k.start_mark.line + 1)
        if isinstance(k, yaml.ScalarNode) and k.value == FIELD:
            return _change_number(text, v, current, new)
    first = value.value[0][0]
    start = text.rfind("\n", 0, first.start_mark.index) + 1
    indent = text[start:first.start_mark.index]
    if indent.strip(" ") or first.start_mark.line == key.start_mark.line:
        raise _Refused("the first key under livekit does not start its own line", first.start_mark.line + 1)
    return Edit(text[:start] + f"{indent}{FIELD}: {new}{nl}" + text[start:], first.start_mark.line + 1, "inserted")


def _change_number(text: str, node: yaml.Node, current: int, new: int) -> Edit:
    line = node.start_mark.line + 1
    span = text[node.start_mark.index:node.end_mark.index]
    if not isinstance(node, yaml.ScalarNode) or node.style not in (None, "") or span != str(current):
        raise _Refused(f"{FIELD_PATH} is not written as a plain number", line)
    return Edit(text[: node.start_mark.index] + str(new) + text[node.end_mark.index:], line, "changed")


def rotate_secret(config_path: str | Path) -> Rotation:
    """Bump ``livekit.api_secret_version`` in the config file (see the module doc).

    Raises `ConfigError` (nothing written) on a config that does not load, a file that cannot
    be edited safely, a read-only file or one with several hard links; `PackageError` if
    another program changed the file while it was being edited. Runs of rotate-secret on the
    same file take turns (a lock on its directory), so none loses another's bump.

    >>> rotate_secret("stacks/flowspace.yaml").new_version  # doctest: +SKIP
    2
    """
    shown = str(config_path)
    target = Path(os.path.realpath(config_path))  # a link is written through, to the file it names
    with _locked(target.parent, shown):
        snap, st = _read(target, shown)
        try:
            text = snap.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(shown, f"is not UTF-8 text ({exc.reason})") from None
        old = parse_config(text, shown)
        current = old.livekit.api_secret_version
        try:
            edit = plan_edit(text, current)
        except _Refused as exc:
            raise ConfigError(shown, f"cannot edit this file safely: {exc.reason}", field="livekit",
                              expected=_by_hand(current + 1), line=exc.line) from None
        new = parse_config(edit.text, shown)
        expected = old.model_copy(update={"livekit": old.livekit.model_copy(update={FIELD: current + 1})})
        if new != expected:
            # A safety net: the edit must mean exactly "the version changed".
            raise ConfigError(shown, "cannot edit this file safely: the edit would change more than the version",
                              field="livekit", expected=_by_hand(current + 1), line=edit.line)
        # The one writer: unique temp file, and the file must still be exactly what was read.
        write_file(edit.text.encode("utf-8"), target, mode=st.st_mode & 0o7777, expect=snap)
    return Rotation(shown, current, current + 1, edit)


@contextmanager
def _locked(directory: Path, shown: str) -> Iterator[None]:
    """An exclusive lock on the config's directory (flock: released when the process ends, even
    on kill -9): two rotations of one file run one after the other, each reading the other's result."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        raise ConfigNotFoundError(shown) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _read(target: Path, shown: str) -> tuple[Snapshot, os.stat_result]:
    """The file's bytes and identity, read once through one descriptor; refusals first."""
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigNotFoundError(shown) from None
    except OSError as exc:
        raise ConfigError(shown, f"cannot be read ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(shown, "is not a regular file (a device, a pipe or a directory)", expected="a stacks/<name>.yaml file")
        if not st.st_mode & stat.S_IWUSR:
            raise ConfigError(shown, f"is read-only (mode {st.st_mode & 0o777:04o}): rotate-secret does not change a file you protected",
                              expected=f"chmod u+w {shlex.quote(shown)} first, if the change is wanted")
        if st.st_nlink > 1:
            raise ConfigError(shown, f"has {st.st_nlink} hard links: rewriting it would leave the other names with the old version",
                              expected="a config with one name (edit the file the other links share by hand, or cp it to a new file)")
        if st.st_size > MAX_CHARS * 4:
            raise ConfigError(shown, f"is larger than {MAX_CHARS * 4:,} bytes: not a config (a config is a few kB)")
        return Snapshot.of(fd), st
    finally:
        os.close(fd)


def front_end_steps(config_path: str) -> list[str]:
    """What the user does after a rotation reached the stack: the front end needs the new secret.

    >>> front_end_steps("s.yaml")[0]
    'flowstack rm-outputs s.yaml --json --show-sensitive | flowstack env - -o .env.production'
    """
    quoted = shlex.quote(config_path)
    return [
        f"flowstack rm-outputs {quoted} --json --show-sensitive | flowstack env - -o .env.production",
        "give the front end the new LIVEKIT_API_SECRET from that file once the server has applied the change "
        "(within a few minutes, or at the --at time): tokens signed with the old secret stop working then",
    ]
