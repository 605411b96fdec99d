"""Issue 24: a walk of the config through `zip` climbs back up at most 3 times (tools/config_walk.py).

Nothing is replaced: the tool traces a real build of the reference stack with sys.setprofile.
The counting is shown finding a climb on a made-up walk."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

TOOL = Path(__file__).resolve().parents[2] / "tools" / "config_walk.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("config_walk", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_walk_of_the_reference_stack_climbs_at_most_three_times() -> None:
    walk = _tool()
    rooms = walk.walk(str(TOOL.parents[1] / "stacks" / "flowspace.yaml"))
    assert rooms[0] == "derive.ports" and "emit.render" in rooms and rooms[-1].startswith("checks.")
    assert len(walk.climbs(rooms)) <= 3, walk.climbs(rooms)
    # Once emitting has begun, nothing hands the config back down to derive/ or scale/stack.
    emitting = rooms[rooms.index("emit.render"):]
    assert not [r for r in emitting if r.startswith("derive.") or r == "scale.stack"], emitting


def test_a_climb_is_a_step_up_the_layers() -> None:
    walk = _tool()
    assert walk.climbs(["emit.render", "derive.model", "emit.cloudinit"]) == [("derive.model", "emit.cloudinit")]
    assert walk.climbs(["emit.render", "emit.cloudinit", "derive.model", "derive.ports"]) == []
