"""The README's promises: its config reference matches the model, its two commands exist."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path


def test_config_reference_is_current(root: Path) -> None:
    spec = importlib.util.spec_from_file_location("update_readme", root / "tools" / "update_readme.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader
    spec.loader.exec_module(module)
    readme = (root / "README.md").read_text()
    assert module.render(readme) == readme, "README config reference is stale: run tools/update_readme.py"


def test_readme_commands_are_make_targets(root: Path) -> None:
    readme = (root / "README.md").read_text()
    makefile = (root / "Makefile").read_text()
    for target in re.findall(r"^make ([a-z-]+)", readme, re.M):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (root / ".ci" / "run").read_text()
