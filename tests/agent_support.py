"""Shared by the config-agent tests: the agent script as the server gets it, and bundles.

The agent is loaded from the text `flowstack preview` writes to the server (the shipped
form, docstrings stripped: generator/emit/pyship.py), so the tests run what the server runs.
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from generator.core.contract import AGENT_SCRIPT
from generator.emit.agent import agent_files


def agent_text() -> str:
    return next(content for path, content, _ in agent_files() if path == AGENT_SCRIPT)


def load_agent(tmp: Path) -> ModuleType:
    """The shipped agent script imported as a module (for its checks, without HTTP)."""
    path = tmp / "flowstack_agent.py"
    path.write_text(agent_text(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("flowstack_agent_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unpack(value: str) -> dict[str, Any]:
    """A metadata value -> the bundle's JSON (what the agent decodes first)."""
    return json.loads(gzip.decompress(base64.b64decode(value)))


def pack(doc: dict[str, Any]) -> str:
    return base64.b64encode(gzip.compress(json.dumps(doc).encode("utf-8"), mtime=0)).decode("ascii")
