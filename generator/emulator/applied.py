"""Instances the emulator's own APPLY jobs created, for its Compute API (issue 22).

Right after ``rm-apply`` against the emulator, ``flowstack status`` should find the server
without a hand-written ``--metrics`` file, as it would on OCI. Each live stack whose state
holds an ``oci_core_instance`` (its ``_applied`` addresses, kept by both job runners) gets
one instance record in the telemetry format (`telemetry.instance_record`):

* jobs that ran real Terraform: from the stack's ``terraform.tfstate`` (display name, shape,
  OCPUs, memory, state, private IP; the public IP from the instance or its reserved
  ``oci_core_public_ip``), so the name and figures are what the stack's HCL says;
* simulated jobs (no state file): the display name ``<stack>-server`` (what flowstack's
  templates name the server) and the ``public_ip`` output of the newest succeeded APPLY.

Seeded instances of the same name win (`CloudApi.instances`): a test's telemetry is exact.

>>> applied_instances  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .telemetry import instance_record

_INSTANCE = "oci_core_instance."


def _time(text: Any) -> str:
    """``2026-05-20 03:50:48.000 +0000 UTC`` (Terraform's) or RFC 3339 -> RFC 3339; a fixed time when neither."""
    m = re.match(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)", str(text or ""))
    return f"{m.group(1)}T{m.group(2)}Z" if m else "2026-11-01T00:00:00Z"


def _from_tfstate(path: Path, compartment: str) -> list[dict[str, Any]]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    resources = [r for r in state.get("resources", []) if r.get("mode") == "managed"]
    reserved = [i["attributes"].get("ip_address") for r in resources if r.get("type") == "oci_core_public_ip"
                for i in r.get("instances", []) if i.get("attributes", {}).get("ip_address")]
    out = []
    for r in resources:
        if r.get("type") != "oci_core_instance":
            continue
        for inst in r.get("instances", []):
            a = inst.get("attributes", {})
            shape = (a.get("shape_config") or [{}])[0]
            out.append({"displayName": a.get("display_name") or r.get("name"), "lifecycleState": a.get("state") or "RUNNING",
                        "shape": a.get("shape") or "VM.Standard.A1.Flex", "ocpus": shape.get("ocpus") or 1,
                        "memoryInGBs": shape.get("memory_in_gbs") or 6, "publicIp": a.get("public_ip") or (reserved[0] if reserved else None),
                        "privateIp": a.get("private_ip") or "10.0.0.2", "compartmentId": a.get("compartment_id") or compartment,
                        "availabilityDomain": a.get("availability_domain") or None, "timeCreated": _time(a.get("time_created"))})
    return out


def _simulated(stack: dict[str, Any], jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    applies = [j for j in jobs if j["stackId"] == stack["id"] and j["operation"] == "APPLY" and j["lifecycleState"] == "SUCCEEDED"]
    outputs = max(applies, key=lambda j: j["_startMs"]).get("_outputs", []) if applies else []
    ip = next((o.get("outputValue") for o in outputs if o.get("outputName") == "public_ip"), None)
    return [{"displayName": f"{stack['displayName']}-server", "publicIp": ip, "compartmentId": stack["compartmentId"],
             "timeCreated": _time(stack.get("timeCreated"))}]


def applied_instances(state: Any) -> list[dict[str, Any]]:
    """Normalised instance records (`telemetry.instance_record`) of every live stack's applied instances."""
    state.advance()
    with state.lock:
        stacks = [dict(s) for s in state.data["stacks"].values() if s["lifecycleState"] != "DELETED"
                  and any(a.startswith(_INSTANCE) for a in s.get("_applied", []))]
        jobs = [dict(j) for j in state.data["jobs"].values()]
    out: list[dict[str, Any]] = []
    for stack in stacks:
        tfstate = Path(f"{state.path}.terraform") / stack["id"] / "terraform.tfstate"
        raws = _from_tfstate(tfstate, stack["compartmentId"]) if tfstate.exists() else _simulated(stack, jobs)
        for raw in raws:
            raw = {k: v for k, v in raw.items() if v is not None or k == "publicIp"}
            out.append(instance_record(raw, len(out)))
    return out
