"""The walk of one config through `flowstack zip` (issue 24's "climbs back up" figure).

    PYTHONPATH=. .venv/bin/python tools/config_walk.py [stacks/flowspace.yaml]

Traces `build.pipeline.build` with sys.setprofile and lists, in call order, the modules whose
functions receive the config (a `StackConfig`) or the derived value (`Derived`) as an argument,
consecutive repeats collapsed: the "rooms" the config passes through. A "climb back up" is a step
from a module to one in a higher layer (the layer order of tests/package/test_layers.py), i.e. a
lower layer handing the config back to a higher one. Issue 24's target: at most 3.
Measured 2026-12-07 on main after the wave-3 merges: 44 rooms, 13 climbs (most of them
emit/cloudinit.py calling back into derive/ and scale/ while it builds the server file set).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "package")]

from test_layers import LAYERS  # noqa: E402

from generator.build import pipeline  # noqa: E402
from generator.config.schema import StackConfig  # noqa: E402
from generator.derive.derived import Derived  # noqa: E402


def walk(config_path: str) -> list[str]:
    rooms: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith("generator."):
            return
        n = frame.f_code.co_argcount + frame.f_code.co_kwonlyargcount
        args = list(frame.f_locals.values())[:n]
        if any(isinstance(v, (StackConfig, Derived)) for v in args) and (not rooms or rooms[-1] != module):
            rooms.append(module)

    sys.setprofile(profile)
    try:
        pipeline.build(config_path)
    finally:
        sys.setprofile(None)
    return [r.removeprefix("generator.") for r in rooms]


def main() -> None:
    rank = {m: i for i, (_, mods) in enumerate(LAYERS) for m in mods}
    rooms = walk(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "stacks" / "flowspace.yaml"))
    climbs = [(a, b) for a, b in zip(rooms, rooms[1:]) if a in rank and b in rank and rank[b] > rank[a]]
    print(f"rooms entered: {len(rooms)}, climbs back up: {len(climbs)} (target: at most 3)")
    print(" -> ".join(rooms))
    for a, b in climbs:
        print(f"  climb: {a} -> {b}")


if __name__ == "__main__":
    main()
