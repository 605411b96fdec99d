"""Issue 13.1: `-o DIR` never destroys what flowstack did not write, and the swap is atomic.

* A directory holding any file flowstack did not write (no marker, or a file the marker does
  not list) is refused with one `Error:` line and left byte-for-byte as it was.
* flowstack's own output (marker lists exactly what is there) is replaced.
* A crash at every step of a write (a real subprocess that `os._exit`s at the N-th file-system
  call) leaves the target holding the complete old tree or the complete new tree.
* `-o .` gives an error, not a traceback.
Without the marker check, `test_foreign_directory_is_refused` deletes the user's files; without
the exchange, a crash between the two renames of the old code leaves no tree at the target.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.core import swap
from generator.core.errors import PackageError
from generator.core.files import MARKER, owned_files, write_tree, zip_bytes

OLD = {"main.tf": b"old main", "files/a.txt": b"old a", "gone.tf": b"only in old"}
NEW = {"main.tf": b"new main", "files/a.txt": b"new a", "files/b/c.txt": b"new c"}


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


FOREIGN_LAYOUTS = [
    {"notes.txt": b"my thesis"},
    {"flowspace.yaml": b"name: flowspace\n"},
    {"sub/deep/keep.md": b"x"},
    {".hidden": b"dot file"},
    {"main.tf": b"hand-written, no marker"},
    {MARKER: b"# marker that lists nothing\n", "main.tf": b"not listed"},
    {MARKER: b"main.tf\n", "main.tf": b"listed", "extra.txt": b"not listed"},
    {"emptydir/": b""},
]


@pytest.mark.parametrize("layout", FOREIGN_LAYOUTS, ids=lambda d: "+".join(d))
def test_foreign_directory_is_refused(tmp_path: Path, layout: dict[str, bytes]) -> None:
    dest = tmp_path / "out"
    for name, data in layout.items():
        p = dest / name
        if name.endswith("/"):
            p.mkdir(parents=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    before = snapshot(dest)
    with pytest.raises(PackageError, match="holds files flowstack did not write.*nothing was changed"):
        write_tree(NEW, dest)
    assert snapshot(dest) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("state", ["missing", "empty", "own"])
def test_own_or_empty_directory_is_replaced(tmp_path: Path, state: str) -> None:
    dest = tmp_path / "out"
    if state == "empty":
        dest.mkdir()
    if state == "own":
        write_tree(OLD, dest)
    write_tree(NEW, dest)
    got = snapshot(dest)
    assert got.pop(MARKER).decode().splitlines()[1:] == sorted(NEW)
    assert got == NEW
    assert owned_files(dest) == set(NEW)


@pytest.mark.parametrize("command", [["generate", "{cfg}", "-o", "{dir}"], ["preview", "{cfg}", "--sample", "-o", "{dir}"]])
@pytest.mark.parametrize("target", [".", "{dir}", "{dir}/.."])
def test_cli_refuses_dir_with_the_config_or_the_cwd(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], target: str) -> None:
    """The issue's cases: the config being rendered and a notes file sit in the target; `-o .`."""
    work = tmp_path / "stacks"
    work.mkdir()
    cfg = work / "flowspace.yaml"
    cfg.write_bytes((root / "stacks" / "flowspace.yaml").read_bytes())
    (work / "thesis.txt").write_text("do not lose me")
    monkeypatch.chdir(work)
    args = [a.format(cfg=cfg, dir=work) if a != "{dir}" else target.format(dir=work) for a in command]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code != 0
    # The reference config also prints a deploy-note warning; the refusal is one Error line.
    errors = [line for line in r.output.splitlines() if not line.startswith("Warning:")]
    assert len(errors) == 1 and errors[0].startswith("Error: cannot write"), r.output
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)
    assert (work / "thesis.txt").read_text() == "do not lose me" and cfg.exists()


# A child that writes OLD then NEW, and dies (os._exit, no clean-up) at the N-th call of the
# file-system operations write_tree uses.
CHILD = textwrap.dedent(
    """
    import os, shutil, sys
    from pathlib import Path
    from generator.core import files, swap
    dest, crash_at, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    files.write_tree({old!r}, dest)
    if mode == "fallback":
        swap._RENAMEAT2 = None
    count = [0]
    def wrap(fn):
        def inner(*a, **k):
            count[0] += 1
            if count[0] == crash_at:
                os._exit(9)
            r = fn(*a, **k)
            count[0] += 1
            if count[0] == crash_at:
                os._exit(9)
            return r
        return inner
    Path.write_bytes = wrap(Path.write_bytes)
    os.rename = wrap(os.rename)
    os.chmod = wrap(os.chmod)
    swap._RENAMEAT2 = wrap(swap._RENAMEAT2) if swap._RENAMEAT2 else None
    shutil.rmtree = wrap(shutil.rmtree)
    files.write_tree({new!r}, dest)
    print("calls", count[0])
    """
).format(old=OLD, new=NEW)


def run_child(dest: Path, crash_at: int, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, str(dest), str(crash_at), mode], capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("mode", ["exchange"])
def test_crash_at_every_step_leaves_old_or_new(tmp_path: Path, mode: str) -> None:
    if not swap.atomic_exchange_available():
        pytest.skip("no renameat2 here: the fallback has a window (documented in generator/core/swap.py)")
    full = run_child(tmp_path / "probe", 0, mode)
    assert full.returncode == 0, full.stderr
    total = int(full.stdout.split()[-1])
    assert total > 10
    seen = set()
    for n in range(1, total + 1):
        dest = tmp_path / f"t{n}" / "out"
        r = run_child(dest, n, mode)
        assert r.returncode == 9, (n, r.stderr)
        got = snapshot(dest)
        got.pop(MARKER)
        assert got in (OLD, NEW), f"crash at call {n} left {sorted(got)}"
        seen.add("old" if got == OLD else "new")
    assert seen == {"old", "new"}  # the crashes did land before and after the swap


def test_fallback_without_exchange_has_a_window(tmp_path: Path) -> None:
    """The check above can fail: with two renames (the old code's way) some crash leaves nothing."""
    total = int(run_child(tmp_path / "probe", 0, "fallback").stdout.split()[-1])
    broken = []
    for n in range(1, total + 1):
        dest = tmp_path / f"t{n}" / "out"
        run_child(dest, n, "fallback")
        if not dest.exists():
            broken.append(n)
    assert broken, "the two-rename fallback was expected to leave a moment with no tree"


@pytest.mark.parametrize("content", [b"", b"my notes\n", b"name: flowspace\n", b"%PDF-1.7 thesis", b"\x7fELF\x02", b"P", b"PK\x05\x06 not a local header"])
def test_zip_never_overwrites_a_file_that_is_not_a_zip(root: Path, tmp_path: Path, content: bytes) -> None:
    target = tmp_path / "out.zip"
    target.write_bytes(content)
    r = CliRunner().invoke(cli, ["zip", str(root / "stacks" / "flowspace.yaml"), "-o", str(target)])
    errors = [line for line in r.output.splitlines() if not line.startswith("Warning:")]
    assert r.exit_code != 0 and errors[0].startswith(f"Error: cannot write {target}: it exists and is "), r.output
    assert "not a zip" in errors[0], r.output
    assert target.read_bytes() == content


@pytest.mark.parametrize("existing", [None, "zip"])  # an empty file is refused above (issue 23.1)
def test_zip_replaces_a_zip_or_nothing(root: Path, tmp_path: Path, existing: bytes | str | None) -> None:
    target = tmp_path / "out.zip"
    if existing == "zip":
        existing = zip_bytes({"a": b"1"})
    if isinstance(existing, bytes):
        target.write_bytes(existing)
    r = CliRunner().invoke(cli, ["zip", str(root / "stacks" / "flowspace.yaml"), "-o", str(target)])
    assert r.exit_code == 0, r.output
    assert target.read_bytes()[:4] == b"PK\x03\x04"
