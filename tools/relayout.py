"""Move modules and rewrite every reference to them, from tools/relayout_map.txt (issue 24).

    python tools/relayout.py --move      # git mv each old module to its new path, then rewrite
    python tools/relayout.py             # rewrite only (after merging a branch written against
                                         # the old layout: its new imports get the new names)
    python tools/relayout.py --check     # list what would change, change nothing (exit 1 if any)
    python tools/relayout.py --docs README.md   # also module names and paths in prose files

What it rewrites, in every .py file under generator/, tests/, tools/ and bench/:

* ``from generator.config import load_config`` -> ``from generator.config.load import load_config``;
* ``from generator import server`` -> ``from generator.emit import cloudinit as server``;
* relative imports (``from .errors import X``, ``from . import limits``), resolved against the
  file's place in the OLD layout, become absolute imports of the new module; in a moved file
  every relative import becomes absolute (its old relative paths no longer hold);
* test-file paths moved by tools/relayout_tests.txt (``tests/test_golden.py`` ->
  ``tests/build/test_golden.py``), also in the Makefile, .ci/run and docs/*.md;
* dotted names anywhere else in the text (strings such as monkeypatch targets
  ``"generator.server.render_template"``, ``python -m generator.x``, comments) and
  ``generator/x.py`` paths.

A line marked ``# relayout: keep`` is left as is (text that is output, not a reference), and a
file holding ``# relayout: skip-file`` is not touched.
It is idempotent: a name already in the new layout (``generator.config.load``) is left alone.
After it, ``ruff check --fix --select I generator`` puts the rewritten imports in order.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP_FILE = ROOT / "tools" / "relayout_map.txt"
TESTS_MAP_FILE = ROOT / "tools" / "relayout_tests.txt"  # "tests/test_x.py tests/<area>/test_x.py"
# Where test-file paths are named besides the Python files (targets, CI, docs).
TEXT_FILES = ("Makefile", ".ci/run", "docs/*.md")
AREAS = ("generator", "tests", "tools", "bench")
DOTTED = re.compile(r"(?<![\w.])generator(?:\.[A-Za-z_]\w*)+")
# "from generator import files, swap" inside a string (code a test runs in a child process)
TEXT_IMPORT = re.compile(r"\bfrom (generator(?:\.\w+)*) import (\w+(?:, \w+)*)")
PATHS = re.compile(r"(?<![\w/])generator((?:/[A-Za-z_]\w*)+)\.py\b")


def read_map(path: Path = MAP_FILE) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            old, new = line.split()
            out[old] = new
    return out


class Layout:
    def __init__(self, moves: dict[str, str]) -> None:
        self.moves = moves
        self.back = {new: old for old, new in moves.items()}
        self.new_modules = set(moves.values())
        # every package prefix of a new module is a new module too (generator.emit, ...)
        for new in list(self.new_modules):
            parts = new.split(".")
            self.new_modules.update(".".join(parts[:i]) for i in range(1, len(parts)))

    def _longest(self, parts: list[str], names: set[str] | dict[str, str]) -> int:
        for i in range(len(parts), 0, -1):
            if ".".join(parts[:i]) in names:
                return i
        return 0

    def map_dotted(self, name: str) -> str:
        """``generator.server.x`` -> ``generator.emit.cloudinit.x``; a new-layout name is kept."""
        parts = name.split(".")
        old = self._longest(parts, self.moves)
        if not old or self._longest(parts, self.new_modules) > old:
            return name
        return ".".join([self.moves[".".join(parts[:old])], *parts[old:]])

    def old_module_of(self, path: Path) -> str:
        """The file's module name in the OLD layout (a moved file answers for where it was)."""
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        return self.back.get(name, name)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _alias(a: ast.alias) -> str:
    return a.name + (f" as {a.asname}" if a.asname else "")


def rewrite_import(node: ast.stmt, layout: Layout, module: str, is_package: bool, moved: bool) -> list[str] | None:
    """New statement lines for an import node, or None to keep it as written."""
    if isinstance(node, ast.Import):
        names = [ast.alias(layout.map_dotted(a.name), a.asname) for a in node.names]
        if [a.name for a in names] == [a.name for a in node.names]:
            return None
        return ["import " + ", ".join(map(_alias, names))]
    assert isinstance(node, ast.ImportFrom)
    if node.level == 0 and not (node.module or "").startswith("generator"):
        return None
    target = _absolute(node, module, is_package)
    if not target.startswith("generator"):
        return None
    if all(f"{target}.{a.name}" in layout.new_modules for a in node.names):
        return None  # "from generator.build import pipeline": the new layout's package, not the old module
    new_target = layout.map_dotted(target)
    if new_target != target or any(f"{target}.{a.name}" in layout.moves for a in node.names):
        lines, rest = [], []
        for a in node.names:
            full = f"{target}.{a.name}"
            if full in layout.moves and layout.map_dotted(full) != full:
                parent, _, leaf = layout.moves[full].rpartition(".")
                lines.append(f"from {parent} import {leaf}" + (f" as {a.asname or a.name}" if (a.asname or a.name) != leaf else ""))
            else:
                rest.append(a)
        if rest:
            lines.insert(0, f"from {new_target} import " + ", ".join(map(_alias, rest)))
        return lines
    if node.level and moved:  # its old relative path no longer holds where it is now
        return [f"from {target} import " + ", ".join(map(_alias, node.names))]
    return None


def rewrite_text(text: str, path: Path, layout: Layout, moved: bool) -> str:
    module = layout.old_module_of(path)
    is_package = path.name == "__init__.py"
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    lines = text.splitlines(keepends=True)
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            new = rewrite_import(node, layout, module, is_package, moved)
            if new is not None:
                edits.append((node, new))
    # import statements are rewritten from their AST above, never by the text patterns below
    in_edits = {i for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for i in range(node.lineno - 1, node.end_lineno or node.lineno)}
    for i, line in enumerate(lines):  # names in text first, on the original line numbers
        if i not in in_edits and "relayout: keep" not in line:
            line = TEXT_IMPORT.sub(lambda m: _text_import(layout, m), line)
            line = DOTTED.sub(lambda m: layout.map_dotted(m.group(0)), line)
            lines[i] = PATHS.sub(lambda m: _map_path(layout, m), line)
    for node, new in sorted(edits, key=lambda e: e[0].lineno, reverse=True):  # bottom up: line numbers hold
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        indent = lines[first][: node.col_offset]
        comment = lines[last][node.end_col_offset:].rstrip("\n")  # a trailing comment
        lines[first:last + 1] = [indent + stmt + (comment if i == 0 else "") + "\n" for i, stmt in enumerate(new)]
    out = lines
    return "".join(out)


def rewrite_prose(text: str, layout: Layout) -> str:
    """Module names and ``generator/x.py`` paths in a text file (README, docs)."""
    text = DOTTED.sub(lambda m: layout.map_dotted(m.group(0)), text)
    return PATHS.sub(lambda m: _map_path(layout, m), text)


def _text_import(layout: Layout, m: re.Match[str]) -> str:
    """``from generator import files, swap`` in text -> ``from generator.core import files, swap``
    when every name moved to the same package under its own name; else left for a person."""
    package, names = m.group(1), m.group(2).split(", ")
    targets = [layout.moves.get(f"{package}.{n}") for n in names]
    if not any(targets):
        return m.group(0)
    parents = {t.rpartition(".")[0] if t else None for t in targets}
    if None in parents or len(parents) != 1 or any(t.rpartition(".")[2] != n for t, n in zip(targets, names)):  # type: ignore[union-attr]
        print(f"relayout: rewrite by hand: {m.group(0)}", file=sys.stderr)
        return m.group(0)
    return f"from {parents.pop()} import {', '.join(names)}"


def _map_path(layout: Layout, m: re.Match[str]) -> str:
    dotted = "generator" + m.group(1).replace("/", ".")
    new = layout.map_dotted(dotted)
    return new.replace(".", "/") + ".py" if new != dotted and dotted in layout.moves else m.group(0)


def read_test_moves(path: Path = TESTS_MAP_FILE) -> dict[str, str]:
    if not path.is_file():
        return {}
    return dict(line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#"))


def rewrite_test_paths(text: str, moves: dict[str, str]) -> str:
    for old, new in moves.items():
        text = re.sub(rf"(?<![\w/]){re.escape(old)}\b", new, text)
    return text


def module_path(name: str) -> Path:
    return ROOT.joinpath(*name.split(".")).with_suffix(".py")


def move(layout: Layout) -> set[Path]:
    moved = set()
    for old, new in layout.moves.items():
        src, dst = module_path(old), module_path(new)
        if not src.is_file():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        init = dst.parent / "__init__.py"
        subprocess.run(["git", "mv", str(src), str(dst)], cwd=ROOT, check=True)
        if not init.exists():
            init.write_text(f'"""{dst.parent.name}: see docs/layout.md."""\n', encoding="utf-8")
        moved.add(dst)
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--move", action="store_true", help="git mv the old modules first")
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    parser.add_argument("--map", type=Path, default=MAP_FILE)
    parser.add_argument("--docs", type=Path, nargs="*", default=[], metavar="FILE",
                        help="also rewrite module names and paths in these text files (e.g. README.md)")
    args = parser.parse_args(argv)
    layout = Layout(read_map(args.map))
    if args.move and not args.check:
        move(layout)
    moved_paths = {module_path(new) for new in layout.moves.values()}
    test_moves = read_test_moves()
    changed = []
    for doc in args.docs:
        text = doc.read_text(encoding="utf-8")
        new = rewrite_test_paths(rewrite_prose(text, layout), test_moves)
        if new != text:
            changed.append(doc)
            if not args.check:
                doc.write_text(new, encoding="utf-8")
    for pattern in TEXT_FILES:
        for path in sorted(ROOT.glob(pattern)):
            text = path.read_text(encoding="utf-8")
            new = rewrite_test_paths(text, test_moves)
            if new != text:
                changed.append(path.relative_to(ROOT))
                if not args.check:
                    path.write_text(new, encoding="utf-8")
    for area in AREAS:
        for path in sorted((ROOT / area).rglob("*.py")):
            if path == Path(__file__).resolve() or any(part.startswith(".") or part in ("node_modules", "__pycache__") for part in path.relative_to(ROOT).parts):
                continue
            text = path.read_text(encoding="utf-8")
            if "# relayout: skip-file" in text:  # holds old names on purpose (its own tests)
                continue
            new = rewrite_test_paths(rewrite_text(text, path, layout, path in moved_paths), test_moves)
            if new != text:
                changed.append(path.relative_to(ROOT))
                if not args.check:
                    path.write_text(new, encoding="utf-8")
    for p in changed:
        print(("would rewrite " if args.check else "rewrote ") + str(p))
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
