"""The walk of one config through `flowstack zip` (issue 24's "climbs back up" figure).

    PYTHONPATH=. .venv/bin/python tools/config_walk.py [stacks/flowspace.yaml]

Traces `build.pipeline.build` with sys.setprofile and lists, in call order, the modules the
config (a `StackConfig`) or the derived value (`Derived`) is handed to, consecutive repeats
collapsed: the "rooms" the config passes through. A room is entered when a function of one
`generator` module passes the value, as an argument, to a function of another module:

* a module calling its own helper or its own dataclass (`Built(...)`, `Derived(...)`) keeps the
  value where it is: nothing is passed on (the caller is the nearest `generator` frame);
* the value's own methods (it arrives as ``self``: the schema's validators, which pydantic runs
  while ``model_validate`` builds the config, or a property of `Derived`) are not a hand-off.

A "climb back up" is a step from a room to one in a higher layer (the layer order of
tests/package/test_layers.py): the value came back up from a lower layer and a higher one
handed it on again. Issue 24's target: at most 3. `--by-callee` gives the first counting
(every function receiving the value was a room, its own helpers and the validators included).

Measured 2026-12-07 on main after the wave-3 merges (76578a0): 44 rooms, 13 climbs
by callee; 32 rooms, 10 climbs by hand-off (docs/layout.md has the figures after the work).
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


def _caller_module(frame: FrameType) -> str:
    """The module of the nearest `generator` frame that called ``frame`` (through libraries)."""
    f = frame.f_back
    while f is not None:
        name = str(f.f_globals.get("__name__", ""))
        if name.startswith("generator."):
            return name
        f = f.f_back
    return ""


def walk(config_path: str, *, by_callee: bool = False) -> list[str]:
    rooms: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith("generator."):
            return
        code = frame.f_code
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        args = [frame.f_locals.get(n) for n in names if by_callee or n != "self"]
        if not any(isinstance(v, (StackConfig, Derived)) for v in args):
            return
        if not by_callee and _caller_module(frame) == module:
            return
        if not rooms or rooms[-1] != module:
            rooms.append(module)

    sys.setprofile(profile)
    try:
        pipeline.build(config_path)
    finally:
        sys.setprofile(None)
    return [r.removeprefix("generator.") for r in rooms]


def climbs(rooms: list[str]) -> list[tuple[str, str]]:
    rank = {m: i for i, (_, mods) in enumerate(LAYERS) for m in mods}
    return [(a, b) for a, b in zip(rooms, rooms[1:], strict=False) if a in rank and b in rank and rank[b] > rank[a]]


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--by-callee"]
    rooms = walk(args[0] if args else str(ROOT / "stacks" / "flowspace.yaml"), by_callee="--by-callee" in sys.argv)
    up = climbs(rooms)
    print(f"rooms entered: {len(rooms)}, climbs back up: {len(up)} (target: at most 3)")
    print(" -> ".join(rooms))
    for a, b in up:
        print(f"  climb: {a} -> {b}")


if __name__ == "__main__":
    main()
