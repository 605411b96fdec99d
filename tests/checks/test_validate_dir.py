"""`validate DIR` and `plan DIR` read every file the stack holds, dotfiles included (issue 22).

What the zip holds is what is validated: a freshly generated directory validates like its
config. Before the fix the directory reader skipped dotfiles, so the built-in sample app's
bundle/sample-app/.dockerignore (read by templatefile()) went missing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_server_files import VARIANTS
from variants import make_config

from generator.checks.run import read_stack_dir, validate_path
from generator.cli import cli
from generator.core.files import write_tree
from generator.emit.render import render_stack

ON = dt.date(2026, 12, 1)


@pytest.mark.parametrize("name", VARIANTS)
def test_each_variant_directory_reads_back_whole_and_validates(name: str, tmp_path: Path) -> None:
    files = render_stack(make_config(VARIANTS[name]), ON)
    write_tree(files, tmp_path / name)
    assert read_stack_dir(tmp_path / name) == files
    report = validate_path(tmp_path / name, external=False, on=ON)
    assert report.ok, report.summary()


def test_the_starter_directory_validates_with_its_dotfiles(tmp_path: Path) -> None:
    """The starter runs the sample app, whose bundle holds .dockerignore: the case the issue hit."""
    runner = CliRunner()
    cfg = tmp_path / "stacks" / "mystack.yaml"
    assert runner.invoke(cli, ["init", str(cfg)]).exit_code == 0
    out = tmp_path / "build" / "mystack"
    r = runner.invoke(cli, ["generate", str(cfg), "-o", str(out)])
    assert r.exit_code == 0, r.output
    dotfiles = [p.relative_to(out).as_posix() for p in out.rglob(".*") if p.is_file() and p.name != ".flowstack-output"]
    assert "bundle/sample-app/.dockerignore" in dotfiles
    assert set(dotfiles) <= set(read_stack_dir(out))
    r = runner.invoke(cli, ["validate", str(out), "--no-external"])
    assert r.exit_code == 0, r.output
    # The check can fail: without the dotfile the stack is incomplete and validate says so.
    (out / "bundle" / "sample-app" / ".dockerignore").unlink()
    r = runner.invoke(cli, ["validate", str(out), "--no-external"])
    assert r.exit_code != 0 and ".dockerignore" in r.output


def test_what_terraform_or_flowstack_leave_behind_is_not_a_stack_file(tmp_path: Path) -> None:
    files = render_stack(make_config({}), ON)
    write_tree(files, tmp_path / "s")
    (tmp_path / "s" / ".terraform").mkdir()
    (tmp_path / "s" / ".terraform" / "x").write_text("provider cache")
    (tmp_path / "s" / ".terraform.lock.hcl").write_text("# lock")
    assert read_stack_dir(tmp_path / "s") == files
