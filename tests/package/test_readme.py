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


def layout_paths(readme: str) -> set[str]:
    section = readme.split("## Layers", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`(generator/[\w/]+\.py)`", section))


def package_modules(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in (root / "generator").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and "templates" not in p.parts
    }


def test_readme_layout_matches_the_tree(root: Path) -> None:
    readme = (root / "docs" / "layout.md").read_text()
    listed, present = layout_paths(readme), package_modules(root)
    assert sorted(present - listed) == [], "modules missing from docs/layout.md's Layers table"
    assert sorted(listed - present) == [], "docs/layout.md names modules that do not exist"
    # The comparison itself can fail: a made-up module shows up as missing.
    assert layout_paths(readme + "\n") == listed and "generator/nope.py" not in listed


def test_readme_layout_follows_the_layer_order(root: Path) -> None:
    """docs/layout.md's Layers table lists modules in the same layer order as tests/package/test_layers.py."""
    import test_layers

    section = (root / "docs" / "layout.md").read_text().split("## Layers", 1)[1].split("\n## ", 1)[0]
    order = [m.removeprefix("generator/").removesuffix(".py").replace("/", ".") for m in re.findall(r"`(generator/[\w/]+\.py)`", section)]
    ranks = test_layers.rank()
    layer_of = [ranks[m][0] for m in order if m in ranks]
    assert layer_of == sorted(layer_of)
