"""tools/relayout.py: the re-layout of issue 24 as a re-runnable rewrite (the coordinator runs
it after merging branches written against the flat layout). Real files of this tree and
made-up snippets in the old layout; nothing replaced."""

# relayout: skip-file (old-layout snippets on purpose)
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import relayout  # noqa: E402

LAYOUT = relayout.Layout(relayout.read_map())

OLD = '''from generator.config import load_config
from generator import server, limits as lim
from generator.build import build
from .errors import FlowstackError

CODE = """from generator import files, swap"""


def test(monkeypatch):
    monkeypatch.setattr("generator.server.render_template", None)
    run(["python", "-m", "generator.cli", "zip"], "generator/server.py")
'''

NEW = '''from generator.config.load import load_config
from generator.emit import cloudinit as server
from generator.core import limits as lim
from generator.build.pipeline import build
from generator.core.errors import FlowstackError

CODE = """from generator.core import files, swap"""


def test(monkeypatch):
    monkeypatch.setattr("generator.emit.cloudinit.render_template", None)
    run(["python", "-m", "generator.cli", "zip"], "generator/emit/cloudinit.py")
'''


def test_old_names_become_new_and_a_second_run_changes_nothing() -> None:
    path = ROOT / "generator" / "checks" / "made_up.py"  # a module that did not move: relative imports resolve from here
    once = relayout.rewrite_text(OLD.replace("from .errors", "from ..errors"), path, LAYOUT, moved=False)
    assert once == NEW
    assert relayout.rewrite_text(once, path, LAYOUT, moved=False) == once


def test_a_moved_module_keeps_no_relative_import() -> None:
    path = ROOT / "generator" / "emit" / "cloudinit.py"  # was generator/server.py
    text = "from .ports import policy\nfrom .checks.report import PASS\nfrom . import limits\n"
    assert relayout.rewrite_text(text, path, LAYOUT, moved=True) == (
        "from generator.derive.ports import policy\nfrom generator.checks.report import PASS\nfrom generator.core import limits\n")


def test_new_layout_names_are_left_alone() -> None:
    text = "from generator.build import pipeline\nfrom generator.config import schema\nx = 'generator.config.load.load_config'\n"
    assert relayout.rewrite_text(text, ROOT / "tests" / "x.py", LAYOUT, moved=False) == text


def test_this_tree_is_in_the_new_layout() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "relayout.py"), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
