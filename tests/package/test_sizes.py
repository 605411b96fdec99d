"""Issue 9: modules stay under 400 lines and functions under 60 (tests and templates excepted).

`DEBT` names what is over the limits and still to be split, each with the size it may not
grow past; an entry that is no longer over the limit must be removed, so the list only
shrinks.  It is empty: the emulator, the last part left over from the re-layering, was split
by concern (README's Layout); keep it empty.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "generator"
MODULE_LINES = 400
FUNCTION_LINES = 60

# path or path::function -> the ceiling it has today (to be split, never to grow).
DEBT: dict[str, int] = {}


def sizes(root: Path = PKG) -> dict[str, int]:
    """Every module over `MODULE_LINES` and every function over `FUNCTION_LINES`, with its length."""
    out: dict[str, int] = {}
    for path in sorted(root.rglob("*.py")):
        if "templates" in path.parts:
            continue
        rel = path.relative_to(root.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MODULE_LINES:
            out[rel] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > FUNCTION_LINES:
                    out[f"{rel}::{node.name}"] = length
    return out


def test_no_new_oversized_module_or_function() -> None:
    over = sizes()
    new = {k: v for k, v in over.items() if k not in DEBT}
    grown = {k: (v, DEBT[k]) for k, v in over.items() if k in DEBT and v > DEBT[k]}
    assert new == {} and grown == {}


def test_debt_only_shrinks() -> None:
    paid = sorted(k for k in DEBT if k not in sizes())
    assert paid == [], "these are within the limits now: remove them from DEBT"


def test_the_size_check_can_fail(tmp_path: Path) -> None:
    pkg = tmp_path / "generator"
    pkg.mkdir()
    (pkg / "big.py").write_text("def f():\n" + "    x = 1\n" * 70 + "\n" * 340)
    assert sizes(pkg) == {"generator/big.py": 411, "generator/big.py::f": 71}
