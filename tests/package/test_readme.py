"""The README's promises and the docs' (issue 22): a short first screen, the two make
targets, a config reference and a module layout that match the code, every page linked."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path


def test_config_reference_is_current(root: Path) -> None:
    spec = importlib.util.spec_from_file_location("update_readme", root / "tools" / "update_readme.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader
    spec.loader.exec_module(module)
    reference = (root / "docs" / "config-reference.md").read_text()
    assert module.START in reference and module.END in reference
    assert module.render(reference) == reference, "docs/config-reference.md is stale: run tools/update_readme.py"


def test_readme_commands_are_make_targets(root: Path) -> None:
    readme = (root / "README.md").read_text()
    makefile = (root / "Makefile").read_text()
    targets = re.findall(r"^make ([a-z-]+)", readme, re.M)
    # The README states the two commands: one builds the default zip, one runs every test.
    assert {"stack-zip", "test"} <= set(targets)
    for target in targets:
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (root / ".ci" / "run").read_text()


def test_readme_first_screen_is_short_and_starts_with_the_install(root: Path) -> None:
    """Install -> init -> zip -> upload in the first ~60 lines (the old README: 1,149 lines, install at line 105)."""
    lines = (root / "README.md").read_text().splitlines()
    first = "\n".join(lines[:60])
    order = [first.index(s) for s in ("pip install", "flowstack init", "flowstack zip", "Create stack", "rm-apply")]
    assert order == sorted(order)
    assert len(lines) <= 80, len(lines)


def test_every_docs_page_is_linked_from_the_index(root: Path) -> None:
    index = (root / "docs" / "README.md").read_text()
    pages = sorted(p.name for p in (root / "docs").glob("*.md") if p.name != "README.md")
    assert pages and [p for p in pages if f"({p})" not in index and f"({p}#" not in index] == []
    assert "(docs/README.md)" in (root / "README.md").read_text()


def test_links_between_my_pages_resolve(root: Path) -> None:
    """Relative links in README.md and docs/*.md name files (and headings) that exist."""
    docs = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    anchors = {p.resolve(): {_slug(h) for h in re.findall(r"^#+ (.*)$", p.read_text(), re.M)} for p in docs}
    broken = []
    for page in docs:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page.resolve()
            if not dest.exists():
                # Pages other branches add are linked from the index before they merge.
                if page.name == "README.md" and page.parent.name == "docs" and path in OTHER_BRANCH_PAGES:
                    continue
                broken.append(f"{page.name}: {target}")
            elif anchor and dest in anchors and anchor not in anchors[dest]:
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


# Written on other branches of issues 20-25 and linked from the index before they merge (then they exist).
OTHER_BRANCH_PAGES = {"testing-vm.md", "testing-engine.md"}


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


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
    assert "generator/nope.py" not in listed
    assert "generator/nope.py" in layout_paths(readme.replace("## Layers", "## Layers\n`generator/nope.py`", 1)) - present


def test_readme_layout_follows_the_layer_order(root: Path) -> None:
    """docs/layout.md's Layers table lists modules in the same layer order as tests/package/test_layers.py."""
    import test_layers

    section = (root / "docs" / "layout.md").read_text().split("## Layers", 1)[1].split("\n## ", 1)[0]
    order = [m.removeprefix("generator/").removesuffix(".py").replace("/", ".") for m in re.findall(r"`(generator/[\w/]+\.py)`", section)]
    ranks = test_layers.rank()
    layer_of = [ranks[m][0] for m in order if m in ranks]
    assert layer_of == sorted(layer_of)
