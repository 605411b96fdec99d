"""Reading Terraform's plan and job logs: the plan summary, instance replacement, capacity and throttling.

>>> plan_summary(["Plan: 1 to add, 0 to change, 0 to destroy."])
(1, 0, 0)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CAPACITY_PATTERN = re.compile(r"out of (host )?capacity", re.IGNORECASE)
# Terraform's OCI provider reports a throttle as "Error: 429-TooManyRequests, ...".
THROTTLE_PATTERN = re.compile(r"TooManyRequests|\b429[- ]Too ?Many", re.IGNORECASE)
PLAN_LINE = re.compile(
    r"Plan:(?: (\d+) to import,)? (\d+) to add, (\d+) to change, (\d+) to destroy"
)
NO_CHANGES = re.compile(r"No changes\.")
# Terraform's plan naming an instance it will replace or destroy, with or without a module
# path or an index:  "  # oci_core_instance.server must be replaced",
# "-/+ resource "oci_core_instance" "server" {" (+/- with create_before_destroy), and
# "  # oci_core_instance.server will be destroyed"; and Terraform's machine-readable plan
# messages (what the emulator's Terraform jobs print): "oci_core_instance.server: Plan to replace".
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_INSTANCE = r"(?:module\.[\w-]+(?:\[[^\]]*\])?\.)*oci_core_instance\.[\w-]+(?:\[[^\]]*\])?"
INSTANCE_CHANGE = re.compile(rf"#\s+({_INSTANCE})\s+(must be replaced|will be replaced|will be destroyed)")
INSTANCE_PLAN_MESSAGE = re.compile(rf"^({_INSTANCE}): Plan to (replace|delete)$")
INSTANCE_REPLACE_BLOCK = re.compile(r'^\s*(-/\+|\+/-)\s+resource\s+"oci_core_instance"\s+"([\w-]+)"')


def instance_changes(lines: Iterable[str]) -> list[tuple[str, str]]:
    """``(address, "replaced" | "destroyed")`` for every ``oci_core_instance`` a plan log
    says it will replace or destroy, in the order first seen."""
    found: dict[str, str] = {}
    for raw in lines:
        line = _ANSI.sub("", raw)
        match = INSTANCE_CHANGE.search(line)
        if match:
            action = "destroyed" if match.group(2) == "will be destroyed" else "replaced"
            found.setdefault(match.group(1), action)
            continue
        match = INSTANCE_PLAN_MESSAGE.search(line.strip())
        if match:
            found.setdefault(match.group(1), "destroyed" if match.group(2) == "delete" else "replaced")
            continue
        match = INSTANCE_REPLACE_BLOCK.search(line)
        if match:
            # Under its "# ... must be replaced" header already, unless the header was lost.
            name = f"oci_core_instance.{match.group(2)}"
            if not any(a == name or a.endswith("." + name) or (name + "[") in a for a in found):
                found[name] = "replaced"
    return list(found.items())


def plan_summary(lines: list[str]) -> tuple[int, int, int] | None:
    """``(add, change, destroy)`` from Terraform's plan output, or None if it has no summary."""
    found: tuple[int, int, int] | None = None
    for line in lines:
        match = PLAN_LINE.search(line)
        if match:
            found = (int(match.group(2)), int(match.group(3)), int(match.group(4)))
        elif NO_CHANGES.search(line):
            found = (0, 0, 0)
    return found
