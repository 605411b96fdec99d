"""The command line loads only the command it runs (issue 24: startup is most of a `zip`).

Nothing is replaced: `--help` and `zip` run as real new processes; the parse cache is checked
against python-hcl2 itself on every golden stack.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import hcl2
import pytest

from generator.checks import hclparse
from generator.checks.stack import escaped_as_text
from generator.cli import cli
from generator.cli.commands import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
SHOW_MODULES = "import atexit, sys; atexit.register(lambda: print('MODULES', ' '.join(sorted(sys.modules)), file=sys.stderr))\n"


def test_listed_help_is_each_commands_own() -> None:
    for name, (_, _, short) in COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(10**6) == short, f"{name}: update generator/cli/commands.py"
    eager = {name for name in cli.commands if name not in COMMANDS}
    assert not eager, f"commands added outside generator/cli/commands.py: {eager}"


def _modules(args: list[str], tmp_path: Path) -> set[str]:
    code = SHOW_MODULES + "import sys; sys.argv = ['flowstack', *sys.argv[1:]]\nfrom generator.cli import main\nmain()\n"
    r = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("MODULES "))
    return set(line.split()[1:])


def test_help_imports_no_command(tmp_path: Path) -> None:
    loaded = _modules(["--help"], tmp_path)
    assert not {m for m in loaded if m.startswith(("generator.cli.stack", "generator.cli.rm", "generator.config.load", "oci", "pydantic"))}


def test_zip_imports_no_sdk_nor_provider_double(tmp_path: Path) -> None:
    loaded = _modules(["zip", "stacks/flowspace.yaml", "-o", str(tmp_path / "s.zip")], tmp_path)
    assert "generator.build.pipeline" in loaded  # the probe sees what was imported
    heavy = {m for m in loaded if m.split(".")[0] in ("oci", "grpc", "google", "cryptography") or m.startswith("generator.tfdouble")}
    # root.py names the emulator's error class (the one place errors are printed), nothing more of it
    assert {m for m in loaded if m.startswith("generator.emulator")} <= {"generator.emulator", "generator.emulator.errors"}
    assert not heavy


@pytest.mark.parametrize("folder", sorted(p.name for p in (ROOT / "tests" / "golden").iterdir() if (p / "stack").is_dir()))
def test_parse_cache_gives_python_hcl2s_document(folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(hclparse, "_memo", {})
    for tf in sorted((ROOT / "tests" / "golden" / folder / "stack").glob("*.tf")):
        text = escaped_as_text(tf.read_text("utf-8"))
        fresh = hclparse.parse_hcl2(text)  # a miss: parsed and stored
        hclparse._memo.clear()
        again = hclparse.parse_hcl2(text)  # read back from disk
        assert fresh == again == hcl2.loads(text)
        assert json.dumps(again) == json.dumps(hcl2.loads(text))  # same key order too
    assert list(tmp_path.rglob("*.json")), "nothing was stored"


def test_parse_cache_keeps_no_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(Exception):  # noqa: B017 - python-hcl2 raises several lark error kinds
        hclparse.parse_hcl2('resource "x" {\n')
    assert not list(tmp_path.rglob("*.json"))
