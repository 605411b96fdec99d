"""Issue 23.1 and 23.3: every output path goes through the one atomic writer, which replaces
only a regular file or directory flowstack wrote.

Each hostile target kind (character device made with os.mknod in a temp dir, like /dev/null
but never /dev/null itself; FIFO; Unix socket; empty file; a file another program wrote; links
to each) is refused with one `Error:` line, left exactly as it was, and no temporary file is
left beside it. Beside each refusal, the nearest accepted input: flowstack's own file or
directory, or a symbolic link to it (written through: the link stays a link). Before the fix,
`zip -o NODE` replaced the node with a regular file, `status --plot` wrote through a fixed
temp name (a planted link's target was overwritten) and `generate -o LINK` swapped the link
for a directory and left `.out.*.tmp` behind.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.core.errors import FlowstackError, PackageError
from generator.core.files import MARKER, Snapshot, write_file, write_tree, zip_bytes
from generator.ops.chart import bars_png, bars_svg, write_plot

ROOT = Path(__file__).resolve().parents[2]
OWN_ZIP = zip_bytes({"main.tf": b"x"})
ENV_HEADER = b"# Front-end environment from the flowstack stack's outputs (.env.production)"
OUTPUTS = {"NEXT_PUBLIC_SOCKET_URL": "https://s.example.com", "NEXT_PUBLIC_LIVEKIT_URL": "wss://l.example.com",
           "LIVEKIT_URL": "wss://l.example.com", "LIVEKIT_API_KEY": "APIkey", "LIVEKIT_API_SECRET": "s3cret"}

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="os.mknod of a device node needs root (CI runs as root)")


def make(kind: str, path: Path) -> Callable[[], object]:
    """Create a hostile ``kind`` at ``path``; returns what must hold afterwards (its identity)."""
    if kind == "chardev":
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # the numbers of /dev/null, in a temp dir
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "foreign":
        path.write_bytes(b"my thesis, chapter 3\n")
    elif kind == "directory":
        path.mkdir()
        (path / "keep.txt").write_text("mine")
    elif kind.startswith("link-to-"):
        real = path.with_name("real-" + path.name)
        make(kind.removeprefix("link-to-"), real)
        path.symlink_to(real)
    elif kind == "dangling-link":
        path.symlink_to(path.with_name("nowhere"))
    else:
        raise AssertionError(kind)
    return lambda: _identity(path)


def _identity(path: Path) -> tuple[object, ...]:
    st = os.lstat(path)
    data = path.read_bytes() if stat.S_ISREG(st.st_mode) else None
    target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    real = _identity(path.with_name("real-" + path.name)) if target and os.path.lexists(path.with_name("real-" + path.name)) else None
    return (st.st_ino, st.st_mode, st.st_rdev, data, target, real)


KINDS = [pytest.param("chardev", marks=needs_root), "fifo", "socket", "empty", "foreign", "directory",
         pytest.param("link-to-chardev", marks=needs_root), "link-to-fifo", "link-to-empty", "link-to-foreign", "dangling-link"]


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".tmp"))


WRITERS: dict[str, Callable[[Path], object]] = {
    "zip": lambda p: write_file(OWN_ZIP, p, replaces=b"PK\x03\x04"),
    "env": lambda p: write_file(ENV_HEADER + b"\nA=1\n", p, mode=0o600, replaces=ENV_HEADER),
    "plot-png": lambda p: write_plot(str(p.with_suffix(".png")) if p.suffix != ".png" else str(p), [1.0, 2.0], 1.5, 31),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_file_writers_refuse_what_flowstack_did_not_write(tmp_path: Path, writer: str, kind: str) -> None:
    target = tmp_path / ("out.png" if writer == "plot-png" else "out")
    same = make(kind, target)
    before = same()
    with pytest.raises((PackageError, FlowstackError), match="cannot write") as info:
        WRITERS[writer](target)
    assert "\n" not in str(info.value)
    assert same() == before  # the node, file or link is exactly as it was
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("how", ["missing", "own", "link-to-own"])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_nearest_accepted_own_file_or_link_to_it(tmp_path: Path, writer: str, how: str) -> None:
    target = tmp_path / ("out.png" if writer == "plot-png" else "out")
    real = tmp_path / ("real.png" if writer == "plot-png" else "real")
    if how != "missing":
        WRITERS[writer](real)  # flowstack's own earlier output
        os.utime(real, ns=(0, 0))
    if how == "own":
        real.rename(target)
    elif how == "link-to-own":
        target.symlink_to(real)
    WRITERS[writer](target)
    if how == "link-to-own":
        assert target.is_symlink() and os.lstat(real).st_mtime_ns != 0  # written through; the link stays
    assert stat.S_ISREG(os.stat(target).st_mode) and os.stat(target).st_size > 0
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("picture", ["png", "svg"])
def test_plot_replaces_only_its_own_chart(tmp_path: Path, picture: str) -> None:
    """A picture another program made (valid PNG/SVG without flowstack's mark) is refused; ours is replaced."""
    target = tmp_path / f"egress.{picture}"
    theirs = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17 if picture == "png" else b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    target.write_bytes(theirs)
    with pytest.raises(FlowstackError, match="--plot: cannot write"):
        write_plot(str(target), [1.0], 1.0, 31)
    assert target.read_bytes() == theirs
    target.write_bytes(bars_png([3.0], 1.0, 31) if picture == "png" else bars_svg([3.0], 1.0, 31))
    write_plot(str(target), [1.0], 1.0, 31)
    assert target.read_bytes() == (bars_png([1.0], 1.0, 31) if picture == "png" else bars_svg([1.0], 1.0, 31))


def test_plot_temp_name_is_unique_a_planted_link_is_not_followed(tmp_path: Path) -> None:
    """The old fixed temp name `.egress.png.tmp`: a link planted there had its target overwritten."""
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / ".egress.png.tmp").symlink_to(victim)
    write_plot(str(tmp_path / "egress.png"), [1.0], 1.0, 31)
    assert victim.read_text() == "keep" and (tmp_path / ".egress.png.tmp").is_symlink()


def test_file_that_changes_before_the_swap_is_not_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The identity check just before the rename: another writer's bytes are never lost."""
    target = tmp_path / "c.yaml"
    target.write_bytes(b"a: 1\n")
    fd = os.open(target, os.O_RDONLY)
    snap = Snapshot.of(fd)
    os.close(fd)
    real_fsync = os.fsync

    def other_writer(fd: int) -> None:
        real_fsync(fd)
        with target.open("ab") as f:
            f.write(b"b: 2\n")

    monkeypatch.setattr(os, "fsync", other_writer)
    with pytest.raises(PackageError, match="changed while flowstack worked on it"):
        write_file(b"a: 2\n", target, expect=snap)
    assert target.read_bytes() == b"a: 1\nb: 2\n" and _leftovers(tmp_path) == []
    monkeypatch.setattr(os, "fsync", real_fsync)
    fd = os.open(target, os.O_RDONLY)
    snap = Snapshot.of(fd)
    os.close(fd)
    write_file(b"a: 3\n", target, expect=snap)  # the nearest accepted: unchanged since read
    assert target.read_bytes() == b"a: 3\n"


def test_file_that_appears_before_the_rename_is_not_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "o.zip"
    real_fsync = os.fsync

    def appear(fd: int) -> None:
        real_fsync(fd)
        target.write_bytes(b"someone else's")

    monkeypatch.setattr(os, "fsync", appear)
    with pytest.raises(PackageError, match="appeared there"):
        write_file(OWN_ZIP, target, replaces=b"PK\x03\x04")
    assert target.read_bytes() == b"someone else's" and _leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "directory"])  # a foreign directory: test_outdir.py
def test_generate_dir_refuses_nodes_files_and_foreign_links(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "out"
    same = make(kind, target)
    before = same()
    with pytest.raises(PackageError, match="cannot write"):
        write_tree({"main.tf": b"x"}, target)
    assert same() == before and _leftovers(tmp_path) == []


@pytest.mark.parametrize("planted", ["fifo", pytest.param("chardev", marks=needs_root), "link-to-foreign"])
def test_generate_dir_refuses_own_listing_with_a_planted_node(tmp_path: Path, planted: str) -> None:
    """flowstack's own directory where a listed file became a FIFO / device / link: not ours any more."""
    target = tmp_path / "out"
    write_tree({"main.tf": b"x", "b.tf": b"y"}, target)
    (target / "main.tf").unlink()
    make(planted, target / "main.tf")
    with pytest.raises(PackageError, match="holds files flowstack did not write"):
        write_tree({"main.tf": b"new"}, target)
    assert not stat.S_ISREG(os.lstat(target / "main.tf").st_mode) or (target / "main.tf").is_symlink()


def test_generate_dir_marker_as_fifo_does_not_hang(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    os.mkfifo(target / MARKER)
    with pytest.raises(PackageError, match="holds files flowstack did not write"):
        write_tree({"main.tf": b"x"}, target)


def test_generate_through_a_link_to_its_own_output(tmp_path: Path) -> None:
    """The issue's case: `generate -o LINK` where LINK points at flowstack's earlier output."""
    real = tmp_path / "out1"
    write_tree({"main.tf": b"old"}, real)
    link = tmp_path / "out2"
    link.symlink_to(real)
    write_tree({"main.tf": b"new"}, link)
    assert link.is_symlink() and (real / "main.tf").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out1", "out2"]  # no .out2.*.tmp left


@needs_root
def test_cli_zip_onto_a_device_node_keeps_it(tmp_path: Path) -> None:
    """`flowstack zip CFG -o NODE` (the issue's /dev/null case, on a node made in a temp dir)."""
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    r = CliRunner().invoke(cli, ["zip", str(ROOT / "stacks" / "flowspace.yaml"), "-o", str(node)])
    errors = [line for line in r.output.splitlines() if not line.startswith("Warning:")]
    assert r.exit_code == 1 and len(errors) == 1 and "it is a character device" in errors[0], r.output
    assert stat.S_ISCHR(os.lstat(node).st_mode) and os.lstat(node).st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


@pytest.mark.parametrize("kind", ["fifo", "empty", "foreign"])
def test_cli_env_output_refuses(tmp_path: Path, kind: str) -> None:
    outputs = tmp_path / "out.json"
    outputs.write_text(json.dumps({k: {"value": v, "sensitive": False} for k, v in OUTPUTS.items()}))
    target = tmp_path / ".env.production"
    same = make(kind, target)
    before = same()
    r = CliRunner().invoke(cli, ["env", str(outputs), "-o", str(target)])
    assert r.exit_code == 1 and r.output.startswith("Error: cannot write") and r.output.count("\n") == 1, r.output
    assert same() == before
    target.unlink()
    assert CliRunner().invoke(cli, ["env", str(outputs), "-o", str(target)]).exit_code == 0  # nearest accepted: a new file


def test_emulator_demo_credentials_never_follow_a_planted_link(tmp_path: Path) -> None:
    """The emulator's own writer (it imports nothing of flowstack): a link planted at `config`
    is refused and its target untouched; a fresh directory gets the key at 0600 from the start."""
    from generator.emulator.auth import write_demo_credentials
    from generator.emulator.errors import EmulatorError

    victim = tmp_path / "victim"
    victim.write_text("keep")
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "config").symlink_to(victim)
    with pytest.raises(EmulatorError, match="not a regular file"):
        write_demo_credentials(planted)
    assert victim.read_text() == "keep" and _leftovers(planted) == []
    creds = write_demo_credentials(tmp_path / "fresh")  # the nearest accepted: a new directory
    assert stat.S_IMODE(os.stat(creds.key_file).st_mode) == 0o600 and stat.S_IMODE(os.stat(creds.config_file).st_mode) == 0o600
