"""The lines a Terraform run in Resource Manager prints, and the script type that holds them.

A job's log is a *script*: lines at fixed offsets (ms) from the job's start, each possibly
marking a resource as created or destroyed (its *effect*), plus how the job ends.  The
texts follow what Resource Manager's Terraform and the ``oracle/oci`` provider print.

>>> [line.message for line in cancel_lines(100, 5)][0]
'Job cancellation requested.'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .tfconfig import Resource
from .tfvalues import public_ip, secret_like

# Resource Manager's provider and Terraform builds the log claims to run.  Cosmetic: the
# emulator runs neither.
PROVIDER_VERSION = "7.19.0"
TERRAFORM_BUILDS = {
    "1.5.x": "1.5.7",
    "1.2.x": "1.2.9",
    "1.1.x": "1.1.9",
    "1.0.x": "1.0.11",
    "0.14.x": "0.14.11",
    "0.13.x": "0.13.7",
    "0.12.x": "0.12.31",
}
DEFAULT_TERRAFORM_VERSION = "1.5.x"

LOG_TYPE = "TERRAFORM_CONSOLE"

# (level, message, effect) before it gets its offset
Line = tuple[str, str, "list[str] | None"]


@dataclass
class ScriptLine:
    offset_ms: int
    level: str
    message: str
    effect: list[str] | None = None  # ["create"|"destroy", address]

    def to_json(self) -> list[Any]:
        return [self.offset_ms, self.level, self.message, self.effect]

    @classmethod
    def from_json(cls, data: list[Any]) -> ScriptLine:
        return cls(int(data[0]), str(data[1]), str(data[2]), data[3])


@dataclass
class JobPlan:
    """A job's whole future: its log script and how it ends."""

    script: list[ScriptLine]
    duration_ms: int
    accepted_ms: int
    state: str  # SUCCEEDED or FAILED
    failure: dict[str, str] | None
    outputs: list[dict[str, Any]]


def spread(lines: Sequence[Line], start: int, end: int) -> list[ScriptLine]:
    """Give lines evenly spaced offsets in [start, end]."""
    if not lines:
        return []
    step = (end - start) / max(len(lines) - 1, 1) if len(lines) > 1 else 0
    return [ScriptLine(int(start + i * step), level, msg, effect) for i, (level, msg, effect) in enumerate(lines)]


def _monotonic(script: list[ScriptLine]) -> list[ScriptLine]:
    """Make offsets strictly increase, so every log entry has its own timestamp."""
    last = -1
    for line in script:
        if line.offset_ms <= last:
            line.offset_ms = last + 1
        last = line.offset_ms
    return script


def finished(script: list[ScriptLine], duration: int, accepted: int, state: str,
             failure: dict[str, str] | None, outputs: list[dict[str, Any]]) -> JobPlan:
    """Seal a script: unique timestamps, the last line at the very end of the job."""
    script = _monotonic(script)
    script[-1].offset_ms = max(script[-1].offset_ms, duration)
    return JobPlan(script, script[-1].offset_ms, accepted, state, failure, outputs)


def preamble_lines(operation: str, job_id: str, terraform_version: str) -> list[Line]:
    """``terraform init``, as every job starts."""
    build = TERRAFORM_BUILDS.get(terraform_version, TERRAFORM_BUILDS[DEFAULT_TERRAFORM_VERSION])
    return [
        ("INFO", f"Executing {operation} job {job_id} (simulated: the emulator runs no Terraform here)", None),
        ("INFO", f"Terraform v{build}", None),
        ("INFO", "on linux_amd64", None),
        ("INFO", "Initializing the backend...", None),
        ("INFO", "Initializing provider plugins...", None),
        ("INFO", "- Finding latest version of oracle/oci...", None),
        ("INFO", f"- Installing oracle/oci v{PROVIDER_VERSION}...", None),
        ("INFO", f"- Installed oracle/oci v{PROVIDER_VERSION} (signed by a HashiCorp partner)", None),
        ("INFO", "Terraform has been successfully initialized!", None),
    ]


def replacement_lines(resource: Resource, rid: str, stack_id: str) -> list[str]:
    """Terraform's plan for a resource whose cloud-init changed: ``-/+``, forced replacement."""
    old_data = secret_like("user_data", stack_id, resource.address, length=24)
    new_data = secret_like("user_data", stack_id, resource.address, "new", length=24)
    return [
        f"  # {resource.address} must be replaced",
        f'-/+ resource "{resource.type}" "{resource.name}" {{',
        f'      ~ id                  = "{rid}" -> (known after apply)',
        "      ~ metadata            = { # forces replacement",
        f'          ~ "user_data"           = "{old_data}..." -> "{new_data}..."',
        "            # (1 unchanged element hidden)",
        "        }",
        f'      ~ public_ip           = "{public_ip(stack_id, resource.address)}" -> (known after apply)',
        "        # (24 unchanged attributes hidden)",
        "    }",
    ]


def public_ip_move_lines(resource: Resource, rid: str, stack_id: str) -> list[str]:
    """Terraform's plan for a reserved public IP whose instance is replaced: updated in place,
    its private IP id known only after the new instance exists, its address unchanged."""
    old = fake_private_ip_ocid(stack_id, resource.address)
    return [
        f"  # {resource.address} will be updated in-place",
        f'  ~ resource "{resource.type}" "{resource.name}" {{',
        f'        id                   = "{rid}"',
        f'        ip_address           = "{public_ip(stack_id, resource.address + ".ip_address")}"',
        f'      ~ private_ip_id        = "{old}" -> (known after apply)',
        "        # (12 unchanged attributes hidden)",
        "    }",
    ]


def fake_private_ip_ocid(stack_id: str, address: str) -> str:
    """A stable private IP OCID for a plan line (the emulator keeps no per-resource state)."""
    return "ocid1.privateip.oc1..aaaaaaaa" + hashlib.sha256(f"{stack_id}/{address}".encode()).hexdigest()[:52]


def failure_lines(message: str) -> list[str]:
    """An injected failure's message as Terraform error lines (the first starts with ``Error``)."""
    lines = [line for line in message.splitlines() if line.strip()] or ["Error"]
    if not lines[0].startswith("Error"):
        lines[0] = f"Error: {lines[0]}"
    return lines


def capacity_error_lines(resource: Resource, region: str) -> list[str]:
    """The provider's error for an A1 launch with no capacity, as Resource Manager logs it."""
    request_id = hashlib.sha256(resource.address.encode()).hexdigest()[:32].upper()
    return [
        "Error: 500-InternalError, Out of host capacity.",
        "Suggestion: The service for this resource encountered an error. Please contact support for help with service: Core Instance",
        "Documentation: https://registry.terraform.io/providers/oracle/oci/latest/docs/resources/core_instance",
        "API Reference: https://docs.oracle.com/iaas/api/#/en/iaas/20160918/Instance/LaunchInstance",
        f"Request Target: POST https://iaas.{region}.oraclecloud.com/20160918/instances",
        f"Provider version: {PROVIDER_VERSION}",
        "Service: Core Instance",
        "Operation Name: LaunchInstance",
        f"OPC request ID: {request_id}",
        f"  with {resource.address},",
        f'  on {resource.file} line {resource.line}, in resource "{resource.type}" "{resource.name}":',
    ]


def cancel_lines(at_ms: int, delay_ms: int) -> list[ScriptLine]:
    return [
        ScriptLine(at_ms, "WARN", "Job cancellation requested.", None),
        ScriptLine(at_ms + delay_ms, "WARN", "Job canceled. Terraform was stopped; the state file may not reflect every change.", None),
    ]
