"""The shipped Python's disk cache (generator/emit/pyship.py): what makes `flowstack zip` fast
(re-printing the agent is most of a render) must never change what the server gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.emit import pyship

ROOT = Path(__file__).resolve().parents[2]
AGENT = (ROOT / "templates" / "boot" / "flowstack-agent.py").read_text(encoding="utf-8")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("FLOWSTACK_PYSHIP_CACHE", raising=False)
    pyship.server_python.cache_clear()
    yield tmp_path / "flowstack" / "pyship"
    pyship.server_python.cache_clear()


def test_a_cache_hit_is_the_same_text_as_a_fresh_print(cache: Path) -> None:
    fresh = pyship._reprint(AGENT, "templates/boot/flowstack-agent.py")
    first = pyship.server_python(AGENT, "templates/boot/flowstack-agent.py")
    assert first == fresh and len(list(cache.glob("*.py"))) == 1
    pyship.server_python.cache_clear()  # a new process: the disk copy answers
    assert pyship.server_python(AGENT, "templates/boot/flowstack-agent.py") == fresh
    # One space a level (the metadata budget), and a program that compiles.
    lines = fresh.splitlines()
    body = lines[next(i for i, line in enumerate(lines) if line.startswith("def ")) + 1]
    assert body.startswith(" ") and not body.startswith("  "), body
    compile(fresh, "flowstack-agent", "exec")


def test_a_changed_source_is_printed_afresh(cache: Path) -> None:
    a = pyship.server_python("x = 1\n", "a.py")
    b = pyship.server_python("x = 2\n", "a.py")
    assert a != b and "x = 2" in b and len(list(cache.glob("*.py"))) == 2


def test_the_disk_copy_can_be_turned_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSTACK_PYSHIP_CACHE", "0")
    assert pyship.server_python("y = 1\n", "b.py").endswith("y = 1\n")
    assert not cache.exists()
