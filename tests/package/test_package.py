"""Packaging: byte-reproducible zips, files at the root, atomic writes."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.core.errors import PackageError
from generator.core.files import write_file, write_tree, zip_bytes

ROOT_FILES = ["main.tf", "variables.tf", "outputs.tf", "cloud-init.yaml", "schema.yaml", "bundle.tf"]
# The config bundle (issue 15): its manifest and one template per server file that can change.
BUNDLE_FILES = ["bundle/manifest.json", "bundle/docker-compose.yml", "bundle/livekit.yaml", "bundle/Caddyfile",
                "bundle/socket-source.json", "bundle/git-credentials", "bundle/usr/local/sbin/flowstack-firewall"]


def test_make_stack_zip_equivalent_is_reproducible(root: Path, tmp_path: Path) -> None:
    config = str(root / "stacks" / "flowspace.yaml")
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    assert CliRunner().invoke(cli, ["zip", config, "-o", str(a)]).exit_code == 0
    os.utime(config)  # a newer config file must not change the bytes
    assert CliRunner().invoke(cli, ["zip", config, "-o", str(b)]).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as z:
        assert z.namelist() == ROOT_FILES + BUNDLE_FILES
        for info in z.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert (info.external_attr >> 16) & 0o777 == 0o644
            assert "/" not in info.filename or info.filename in BUNDLE_FILES  # the stack's files at the root, the bundle's in bundle/


def test_zip_bytes_depend_only_on_content() -> None:
    files = {"main.tf": b"a\n", "variables.tf": b"b\n"}
    assert zip_bytes(files) == zip_bytes(dict(files))
    assert zip_bytes(files) != zip_bytes({"main.tf": b"a\n", "variables.tf": b"c\n"})
    with zipfile.ZipFile(io.BytesIO(zip_bytes(files))) as z:
        assert z.read("variables.tf") == b"b\n"


def test_write_file_keeps_old_file_on_error(tmp_path: Path) -> None:
    dest = tmp_path / "out.zip"
    dest.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_file("not bytes", dest)  # type: ignore[arg-type]  # fails half-way, after the temp file exists
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.zip"]  # no temp file left behind
    write_file(b"new", dest)
    assert dest.read_bytes() == b"new"


def test_write_file_error_is_a_package_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PackageError, match="cannot write"):
        write_file(b"data", blocker / "sub" / "out.zip")  # parent is a file


def test_write_tree_replaces_whole_directory(tmp_path: Path) -> None:
    dest = tmp_path / "build" / "demo"
    write_tree({"a.tf": b"1", "nested/b.txt": b"2"}, dest)
    write_tree({"c.tf": b"3"}, dest)
    assert sorted(p.name for p in dest.iterdir()) == [".flowstack-output", "c.tf"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["demo"]  # no temp or .old leftovers


def test_write_tree_failure_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "build" / "demo"
    write_tree({"keep.tf": b"1"}, dest)
    with pytest.raises(TypeError):
        write_tree({"x.tf": b"1", "y.tf": "not bytes"}, dest)  # type: ignore[dict-item]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["demo"]
    assert sorted(p.name for p in dest.iterdir()) == [".flowstack-output", "keep.tf"]


def test_generate_writes_build_dir(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["generate", str(root / "stacks" / "flowspace.yaml")])
    assert r.exit_code == 0, r.output
    assert r.stdout == f"Wrote {len(ROOT_FILES + BUNDLE_FILES)} files to {Path('build') / 'flowspace'}\n"
    assert "socket_git_url has no default" in r.stderr  # the reference keeps the example repository
    assert sorted(p.name for p in (tmp_path / "build" / "flowspace").iterdir()) == sorted([*ROOT_FILES, "bundle", ".flowstack-output"])
    dry = CliRunner().invoke(cli, ["generate", str(root / "stacks" / "flowspace.yaml"), "--dry-run", "-o", "elsewhere"])
    assert dry.exit_code == 0 and "main.tf\t" in dry.output
    assert not (tmp_path / "elsewhere").exists()
