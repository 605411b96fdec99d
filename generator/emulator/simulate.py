"""What a Terraform run in Resource Manager would print and produce, made up from a zip.

Nothing is provisioned.  `tfconfig.analyse_zip` finds the zip's resources, variables,
locals and outputs; `plan_job` then writes a job's *script*: log lines at fixed offsets
from the job's start (`loglines`), each possibly marking a resource as created or
destroyed, plus the final state and outputs (`tfvalues`).  The server shows the lines
whose offset has passed, so a job's log grows while it runs and a restarted server picks
up where it was, from the recorded start time alone.

>>> plan = plan_job(operation="PLAN", job_id="j", stack_id="s", region="ap-chuncheon-1",  # doctest: +SKIP
...                 config=analyse_zip(zip_bytes), variables={}, applied=[], terraform_version="1.5.x", duration_s=1)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .loglines import (
    DEFAULT_TERRAFORM_VERSION,
    LOG_TYPE,
    PROVIDER_VERSION,
    TERRAFORM_BUILDS,
    JobPlan,
    Line,
    ScriptLine,
    cancel_lines,
    capacity_error_lines,
    failure_lines,
    finished,
    preamble_lines,
    public_ip_move_lines,
    replacement_lines,
    spread,
)
from .tfconfig import Output, Resource, TfConfig, Variable, analyse_zip
from .tfvalues import availability_domain, fake_ocid, job_outputs, private_ip, public_ip, resource_ocid, secret_like

# The names this module has always offered (the job start and older callers use them).
__all__ = [
    "AUTO_VARIABLES", "DEFAULT_TERRAFORM_VERSION", "LOG_TYPE", "PROVIDER_VERSION", "TERRAFORM_BUILDS",
    "JobPlan", "Output", "Resource", "ScriptLine", "TfConfig", "Variable", "analyse_zip", "availability_domain",
    "cancel_lines", "capacity_error_lines", "fake_ocid", "job_outputs", "plan_job", "private_ip", "public_ip",
    "replacement_lines", "resource_ocid", "secret_like",
]

# Variables Resource Manager fills in itself (facts §5).
AUTO_VARIABLES = ("tenancy_ocid", "compartment_ocid", "region", "current_user_ocid")

# Creation order: the network first, instances last, so a capacity failure leaves the
# network created, as a real partial apply does.
_ORDER = {
    "oci_core_vcn": 1,
    "oci_core_internet_gateway": 2,
    "oci_core_nat_gateway": 2,
    "oci_core_service_gateway": 2,
    "oci_core_route_table": 3,
    "oci_core_security_list": 3,
    "oci_core_network_security_group": 3,
    "oci_core_network_security_group_security_rule": 4,
    "oci_core_subnet": 5,
    "oci_core_instance": 8,
    # Assigned to the instance's private IP (through data sources that read the instance).
    "oci_core_public_ip": 9,
}


def _order_key(resource: Resource) -> int:
    return _ORDER.get(resource.type, 6)


@dataclass
class _Timeline:
    """Where a job's phases end (ms from its start): accepted, init, body, the whole job."""

    duration: int
    accepted: int
    init_end: int
    body_end: int


@dataclass
class _Changes:
    """What Terraform would do: resources to add, addresses to destroy, instances to replace."""

    ids: dict[str, str]
    to_add: list[Resource]
    to_destroy: list[str]
    replaced: list[Resource]
    # Updated in place: a reserved public IP moves to a replaced instance's new private IP.
    updated: list[Resource] = field(default_factory=list)


def plan_job(
    *,
    operation: str,
    job_id: str,
    stack_id: str,
    region: str,
    config: TfConfig,
    variables: dict[str, str],
    applied: list[str],
    terraform_version: str,
    duration_s: float,
    capacity_failure: bool = False,
    injected_failure: dict[str, str] | None = None,
    replace: list[str] | tuple[str, ...] = (),
) -> JobPlan:
    """Write the whole script of one PLAN/APPLY/DESTROY job.

    ``replace`` names existing resources the plan must destroy and create again (the
    ``replace_instance_next`` fault): PLAN says so, APPLY does it.
    """
    times = _timeline(duration_s)
    script = spread(preamble_lines(operation, job_id, terraform_version), times.accepted, times.init_end)
    error = _config_error(operation, config, variables)
    if error:
        return _failed(script, times, error[0], error[1])
    changes = _changes(operation, config, applied, replace, stack_id, region)
    if operation == "PLAN":
        return _plan(script, times, changes, stack_id, injected_failure)
    return _apply(operation, script, times, changes, config, variables, stack_id, region,
                  capacity_failure=capacity_failure, injected_failure=injected_failure)


def _timeline(duration_s: float) -> _Timeline:
    duration = max(int(duration_s * 1000), 50)
    accepted = int(min(1000, max(20, duration * 0.1)))
    window = duration - accepted
    return _Timeline(duration, accepted, accepted + int(window * 0.2), accepted + int(window * 0.85))


def _failed(script: list[ScriptLine], times: _Timeline, code: str, error_lines: list[str],
            body: list[Line] | None = None) -> JobPlan:
    """The job fails near its end: ``body`` is what it got done, then the error lines."""
    tail: list[Line] = [("ERROR", text, None) for text in error_lines]
    full = script + spread(list(body or []), times.init_end + 1, times.body_end) + spread(tail, times.body_end + 1, times.duration)
    return finished(full, times.duration, times.accepted, "FAILED", {"code": code, "message": "\n".join(error_lines)}, [])


def _config_error(operation: str, config: TfConfig, variables: dict[str, str]) -> tuple[str, list[str]] | None:
    """(failure code, error lines) when Terraform would stop before planning anything."""
    if config.error:
        return config.error
    if operation not in ("PLAN", "APPLY"):
        return None
    missing = [
        v for v in config.variables.values()
        if not v.has_default and v.name not in variables and v.name not in AUTO_VARIABLES
    ]
    if not missing:
        return None
    errors: list[str] = []
    for v in missing:
        errors += [
            "Error: No value for required variable",
            f'  on {v.file} line {v.line}:',
            f'The root module input variable "{v.name}" is not set, and has no default value.',
        ]
    return "TERRAFORM_EXECUTION_ERROR", errors


def _changes(operation: str, config: TfConfig, applied: list[str], replace: list[str] | tuple[str, ...],
             stack_id: str, region: str) -> _Changes:
    ids = {r.address: resource_ocid(r.type, r.address, stack_id, region) for r in config.resources}
    wanted = sorted(config.resources, key=_order_key)
    wanted_addresses = [r.address for r in wanted]
    if operation == "DESTROY":
        return _Changes(ids, [], list(reversed(applied)), [])
    replaced = [r for r in wanted if r.address in replace and r.address in applied]
    moves = any(r.type == "oci_core_instance" for r in replaced)
    return _Changes(
        ids,
        to_add=[r for r in wanted if r.address not in applied],
        to_destroy=[a for a in reversed(applied) if a not in wanted_addresses],
        replaced=replaced,
        updated=[r for r in wanted if moves and r.type == "oci_core_public_ip" and r.address in applied and r not in replaced],
    )


def _plan(script: list[ScriptLine], times: _Timeline, changes: _Changes, stack_id: str,
          injected_failure: dict[str, str] | None) -> JobPlan:
    """A PLAN: the actions Terraform would take and their count, or "No changes"."""
    to_add, to_destroy, replaced = changes.to_add, changes.to_destroy, changes.replaced
    body: list[Line] = []
    if to_add or to_destroy or replaced:
        body.append(("INFO", "Terraform will perform the following actions:", None))
        body += [("INFO", f"  # {r.address} will be created", None) for r in to_add]
        for r in replaced:
            body += [("INFO", text, None) for text in replacement_lines(r, changes.ids[r.address], stack_id)]
        for r in changes.updated:
            body += [("INFO", text, None) for text in public_ip_move_lines(r, changes.ids[r.address], stack_id)]
        body += [("INFO", f"  # {a} will be destroyed", None) for a in to_destroy]
        summary = (f"Plan: {len(to_add) + len(replaced)} to add, {len(changes.updated)} to change, "
                   f"{len(to_destroy) + len(replaced)} to destroy.")
    else:
        summary = "No changes. Your infrastructure matches the configuration."
    if injected_failure:
        return _failed(script, times, injected_failure["code"], failure_lines(injected_failure["message"]), body)
    full = script + spread(body, times.init_end + 1, times.body_end) + spread([("INFO", summary, None)], times.duration, times.duration)
    return finished(full, times.duration, times.accepted, "SUCCEEDED", None, [])


def _apply(operation: str, script: list[ScriptLine], times: _Timeline, changes: _Changes, config: TfConfig,
           variables: dict[str, str], stack_id: str, region: str, *, capacity_failure: bool,
           injected_failure: dict[str, str] | None) -> JobPlan:
    """An APPLY or DESTROY: destroys first (dependents first), then creates in order."""
    to_add, to_destroy = changes.to_add, changes.to_destroy
    if changes.replaced:
        to_destroy = [*to_destroy, *(r.address for r in reversed(changes.replaced))]
        to_add = sorted([*to_add, *changes.replaced], key=_order_key)
    body, failed_at = _apply_body(to_add, to_destroy, changes.ids, stack_id, region, capacity_failure)
    if failed_at is None:
        for r in changes.updated:
            rid = changes.ids[r.address]
            body += [("INFO", f"{r.address}: Modifying... [id={rid}]", None),
                     ("INFO", f"{r.address}: Modifications complete after 1s [id={rid}]", None)]
    if failed_at is not None:
        return _failed(script, times, "TERRAFORM_EXECUTION_ERROR", capacity_error_lines(failed_at, region), body)
    if injected_failure:
        return _failed(script, times, injected_failure["code"], failure_lines(injected_failure["message"]), body)
    if operation == "DESTROY":
        tail: list[Line] = [("INFO", f"Destroy complete! Resources: {len(to_destroy)} destroyed.", None)]
        outputs: list[dict[str, Any]] = []
    else:
        outputs = job_outputs(config, variables, stack_id, region)
        tail = _apply_tail(len(to_add), len(to_destroy), outputs, len(changes.updated))
    full = script + spread(body, times.init_end + 1, times.body_end) + spread(tail, times.body_end + 1, times.duration)
    return finished(full, times.duration, times.accepted, "SUCCEEDED", None, outputs)


def _apply_body(to_add: list[Resource], to_destroy: list[str], ids: dict[str, str], stack_id: str, region: str,
                capacity_failure: bool) -> tuple[list[Line], Resource | None]:
    """The destroy and create lines, and the instance a capacity failure stopped at."""
    body: list[Line] = []
    for address in to_destroy:
        rid = ids.get(address) or fake_ocid("resource", region, stack_id, address)
        body.append(("INFO", f"{address}: Destroying... [id={rid}]", None))
        body.append(("INFO", f"{address}: Destruction complete after 1s", ["destroy", address]))
    for resource in to_add:
        body.append(("INFO", f"{resource.address}: Creating...", None))
        if resource.type == "oci_core_instance":
            body.append(("INFO", f"{resource.address}: Still creating... [10s elapsed]", None))
            if capacity_failure:
                return body, resource
            body.append(("INFO", f"{resource.address}: Still creating... [20s elapsed]", None))
        took = "31s" if resource.type == "oci_core_instance" else "1s"
        body.append(("INFO", f"{resource.address}: Creation complete after {took} [id={ids[resource.address]}]", ["create", resource.address]))
    return body, None


def _apply_tail(added: int, destroyed: int, outputs: list[dict[str, Any]], changed: int = 0) -> list[Line]:
    """``Apply complete!`` and the outputs, as Terraform prints them."""
    tail: list[Line] = [("INFO", f"Apply complete! Resources: {added} added, {changed} changed, {destroyed} destroyed.", None)]
    if outputs:
        tail.append(("INFO", "Outputs:", None))
        for item in outputs:
            shown = "<sensitive>" if item["isSensitive"] else (
                json.dumps(item["outputValue"]) if item["outputType"] == "string" else item["outputValue"]
            )
            tail.append(("INFO", f"{item['outputName']} = {shown}", None))
    return tail
