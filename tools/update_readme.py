"""Rewrites the config reference table in docs/config-reference.md from the config model.

Run after changing a field or its description: `.venv/bin/python tools/update_readme.py`.
tests/package/test_readme.py fails when docs/config-reference.md and the model disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.build.starter import config_reference  # noqa: E402

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def render(readme: str) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{START}\n{config_reference()}{END}", readme)


if __name__ == "__main__":
    path = ROOT / "docs" / "config-reference.md"
    path.write_text(render(path.read_text()))
