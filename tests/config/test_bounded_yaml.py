"""Issue 13.6: any YAML input is refused or loaded with bounded work, as one `Error:` line.

Alias bombs of several shapes and deep nesting of mappings, lists and flow/block style are
refused by `yamlguard` before the duplicate-key walk or pydantic see them; each run is a real
`flowstack zip` subprocess under a wall-clock limit (a limit on the harness, not a timing
assert on the code: without the guard the bomb runs for minutes and the subprocess is killed,
and the deep nesting prints a RecursionError traceback).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from generator.config.load import parse_config
from generator.core.errors import ConfigError
from generator.core.yamlguard import MAX_DEPTH, MAX_EXPANDED_NODES, check_bounded, expanded_size

ROOT = Path(__file__).resolve().parents[2]


def laughs(levels: int, width: int, flow: bool = True) -> str:
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"a{i}: &a{i} [{refs}]" if flow else f"a{i}: &a{i}\n" + "".join(f"  - *a{i - 1}\n" for _ in range(width)).rstrip())
    return "\n".join(lines) + "\n"


BOMBS = {
    "classic-9x9": laughs(9, 9),
    "wide-4x40": laughs(4, 40),
    "deep-30x2": laughs(30, 2),
    "block-style": laughs(8, 8, flow=False),
    "mapping-merge": "a: &a {x: 1, y: 2, z: 3}\n" + "".join(f"b{i}: &b{i} {{p: *{'a' if i == 0 else f'b{i - 1}'}, q: *{'a' if i == 0 else f'b{i - 1}'}}}\n" for i in range(25)),
    "bomb-inside-tags": "name: demo\ntags: &t {k: v}\n" + laughs(10, 8),
}
DEEP = {
    "flow-lists": "x: " + "[" * 5000 + "]" * 5000,
    "flow-maps": "x: " + "{a: " * 5000 + "1" + "}" * 5000,
    "block-maps": "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
    "block-lists": "".join("  " * i + "-\n" for i in range(200)) + "  " * 200 + "- 1\n",
    "mixed": "x: " + "[{a: " * 2000 + "1" + "}]" * 2000,
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_alias_bombs_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="aliases .* expand to more than"):
        parse_config(BOMBS[name], "bomb.yaml")


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=f"nesting is deeper than {MAX_DEPTH} levels"):
        parse_config(DEEP[name], "deep.yaml")


@pytest.mark.parametrize("text", [laughs(3, 3), "a: &x [1, 2]\nb: *x\n", "x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)])
def test_sensible_aliases_and_nesting_pass_the_guard(text: str) -> None:
    check_bounded(text, "ok.yaml")  # no error: the guard is not a blanket ban


def test_guard_can_fail_exactly_at_its_limits() -> None:
    over = "x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    with pytest.raises(ConfigError):
        check_bounded(over, "over.yaml")
    with pytest.raises(ConfigError, match="characters long"):
        check_bounded("#" * 1_000_001, "big.yaml")
    assert expanded_size(__import__("yaml").compose(laughs(9, 9))) > MAX_EXPANDED_NODES


@pytest.mark.parametrize("name", ["classic-9x9", "deep-30x2", "flow-lists", "mixed"])
def test_cli_prints_one_error_line_quickly(tmp_path: Path, name: str) -> None:
    cfg = tmp_path / "hostile.yaml"
    cfg.write_text({**BOMBS, **DEEP}[name])
    r = subprocess.run([sys.executable, "-m", "generator.cli", "zip", str(cfg), "-o", str(tmp_path / "o.zip")],
                       capture_output=True, text=True, timeout=20, cwd=ROOT)
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"Error: {cfg}") and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "o.zip").exists()
