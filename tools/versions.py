"""Print one value of generator/data/versions.yaml, for the Makefile and build scripts.

The data file is the one home of the pinned LiveKit and Caddy-layer4 versions; shell code
asks this script instead of repeating them.

Example:
    $ python tools/versions.py livekit_server.version
    v1.13.5
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent.parent / "generator" / "data" / "versions.yaml"


def lookup(dotted: str) -> Any:
    """The value at ``dotted`` (``a.b.c``); KeyError names the missing part.

    Example: ``lookup("caddy_l4.xcaddy")`` -> ``"v0.4.5"``.
    """
    node: Any = yaml.safe_load(DATA.read_text("utf-8"))
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{dotted}: no {part!r} in {DATA.name}")
        node = node[part]
    return node


if __name__ == "__main__":
    try:
        print(lookup(sys.argv[1]))
    except (IndexError, KeyError) as e:
        print(f"Error: {e}", file=sys.stderr)
        sys.exit(2)
