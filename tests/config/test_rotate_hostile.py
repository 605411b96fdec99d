"""Issue 23.5: `rotate-secret` under concurrent runs, other writers, protected files, big files.

Before: of 5 trials of 3 parallel runs one lost a bump (two printed `2 -> 3`); lines another
program appended while it ran were lost; a 0444 file was rewritten; a hard link was split; an
800 kB config took 16.9 s. Now: runs on one file take turns (flock on its directory), the file
must still be byte-for-byte and by identity (inode, size, mtime) what was read just before the
swap, read-only files and hard links are refused with one line (beside the nearest accepted
file), and the big config parses with libyaml (bench/bench_rotate.py measures it; no timing
assertion here). Concurrency is real: separate processes of the real command line.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.config import rotate as rotate_module
from generator.cli import cli
from generator.config.load import load_config

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "stacks" / "flowspace.yaml"


def _config(tmp_path: Path, name: str = "flowspace.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(REFERENCE.read_bytes())
    return path


def _version(path: Path) -> int:
    return load_config(path).livekit.api_secret_version


def _spawn(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "generator.cli", "rotate-secret", str(path)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(5))
def test_parallel_runs_never_lose_a_bump(tmp_path: Path, trial: int) -> None:
    path = _config(tmp_path)
    procs = [_spawn(path) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    bumps = sorted(re.search(r"(\d+) -> (\d+)", o[0]).group(0) for o in outs)  # type: ignore[union-attr]
    assert bumps == ["1 -> 2", "2 -> 3", "3 -> 4"] and _version(path) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flowspace.yaml"]  # no temporary files left


@pytest.mark.slow
def test_lines_another_program_appends_are_never_lost(tmp_path: Path) -> None:
    """A writer appends 150 comment lines while rotations run: each rotation either wins cleanly
    or is refused; every appended line is in the file at the end."""
    path = _config(tmp_path)
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "for i in range(150):\n"
        "    with open(sys.argv[1], 'a') as f: f.write(f'# appended {i}\\n')\n"
        "    time.sleep(0.01)\n"), str(path)])
    done = refused = 0
    while writer.poll() is None:
        r = subprocess.run([sys.executable, "-m", "generator.cli", "rotate-secret", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
        if r.returncode == 0:
            done += 1
        else:
            assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1 and "changed while" in r.stderr, r.stderr
            refused += 1
    text = path.read_text()
    assert all(f"# appended {i}\n" in text for i in range(150))
    assert _version(path) == 1 + done


def test_a_change_between_read_and_swap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic version of the above: another program appends right after the file was read."""
    path = _config(tmp_path)
    real_parse = rotate_module.parse_config

    def parse_then_someone_appends(text: str, source: str):  # type: ignore[no-untyped-def]
        with path.open("a") as f:
            f.write("# someone else's line\n")
        return real_parse(text, source)

    monkeypatch.setattr(rotate_module, "parse_config", parse_then_someone_appends)
    r = CliRunner().invoke(cli, ["rotate-secret", str(path)])
    assert r.exit_code == 1 and r.output.startswith("Error: ") and "changed while" in r.output and r.output.count("\n") == 1, r.output
    assert path.read_text().endswith("# someone else's line\n") and _version(path) == 1
    monkeypatch.setattr(rotate_module, "parse_config", real_parse)
    assert CliRunner().invoke(cli, ["rotate-secret", str(path)]).exit_code == 0  # nearest accepted: nobody else writes
    assert _version(path) == 2 and path.read_text().endswith("# someone else's line\n")


@pytest.mark.parametrize("mode", [0o444, 0o400, 0o555])
def test_read_only_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = _config(tmp_path)
    before = path.read_bytes()
    path.chmod(mode)
    r = CliRunner().invoke(cli, ["rotate-secret", str(path)])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "is read-only" in r.output and "chmod u+w" in r.output, r.output
    assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == mode
    path.chmod(mode | 0o200)  # the nearest accepted: writable by its owner
    assert CliRunner().invoke(cli, ["rotate-secret", str(path)]).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == mode | 0o200  # the mode is kept


def test_hard_link_is_refused_not_split(tmp_path: Path) -> None:
    path = _config(tmp_path)
    other = tmp_path / "also.yaml"
    os.link(path, other)
    r = CliRunner().invoke(cli, ["rotate-secret", str(path)])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "2 hard links" in r.output, r.output
    assert path.stat().st_ino == other.stat().st_ino and _version(other) == 1
    other.unlink()  # the nearest accepted: one name
    assert CliRunner().invoke(cli, ["rotate-secret", str(path)]).exit_code == 0 and _version(path) == 2


def test_symbolic_link_is_written_through(tmp_path: Path) -> None:
    real = _config(tmp_path, "real.yaml")
    link = tmp_path / "flowspace.yaml"
    link.symlink_to(real)
    assert CliRunner().invoke(cli, ["rotate-secret", str(link)]).exit_code == 0
    assert link.is_symlink() and _version(real) == 2


@pytest.mark.parametrize("kind", ["fifo", pytest.param("chardev", marks=pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root"))])
def test_not_a_regular_file_is_refused_without_hanging(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "flowspace.yaml"
    os.mkfifo(path) if kind == "fifo" else os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    r = CliRunner().invoke(cli, ["rotate-secret", str(path)])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and r.output.startswith("Error: "), r.output


def test_big_config_is_rotated(tmp_path: Path) -> None:
    """An 800 kB config (comments) is edited like a small one (bench/bench_rotate.py times it)."""
    path = _config(tmp_path)
    with path.open("a") as f:
        f.write("".join(f"# padding line {i:05d} ............................................................\n" for i in range(10000)))
    assert path.stat().st_size > 800_000
    before = path.read_text()
    assert CliRunner().invoke(cli, ["rotate-secret", str(path)]).exit_code == 0
    after = path.read_text()
    assert _version(path) == 2 and after.replace("  api_secret_version: 2\n", "", 1) == before
