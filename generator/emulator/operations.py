"""Which operation a CreateJobDetails asks for, and which PLAN job an APPLY applies.

Read the way the API does: ``jobOperationDetails`` first, then the deprecated top-level
``operation`` + ``applyJobPlanResolution``.

>>> resolve_operation({"jobOperationDetails": {"operation": "PLAN"}}, {}, "ocid1.ormstack.x")
('PLAN', {'operation': 'PLAN'}, None, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .records import invalid, missing

# (operation, jobOperationDetails as recorded, applyJobPlanResolution, resolvedPlanJobId)
Resolved = tuple[str, dict[str, Any], dict[str, Any] | None, str | None]


def resolve_operation(details: dict[str, Any], jobs: Mapping[str, dict[str, Any]], stack_id: str) -> Resolved:
    """The operation of a new job on ``stack_id``; ``jobs`` are all jobs, for the plan to apply."""
    op_details, operation, resolution_in = _read_operation(details)
    out: dict[str, Any] = {"operation": operation}
    if op_details.get("terraformAdvancedOptions") is not None:
        out["terraformAdvancedOptions"] = op_details["terraformAdvancedOptions"]
    if operation == "PLAN":
        return operation, out, None, None

    strategy, plan_job_id = _strategy(op_details, resolution_in)
    if operation == "DESTROY" and strategy != "AUTO_APPROVED":
        raise invalid("a DESTROY job requires executionPlanStrategy AUTO_APPROVED")
    if strategy == "AUTO_APPROVED":
        out["executionPlanStrategy"] = strategy
        return operation, out, {"isAutoApproved": True}, None
    plan = _plan_to_apply(strategy, plan_job_id, jobs, stack_id)
    out["executionPlanStrategy"] = strategy
    if strategy == "FROM_PLAN_JOB_ID":
        out["executionPlanJobId"] = plan["id"]
    resolution = {"planJobId": plan["id"], "isAutoApproved": False, "isUseLatestJobId": strategy == "FROM_LATEST_PLAN_JOB"}
    return operation, out, resolution, plan["id"]


def _read_operation(details: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(jobOperationDetails, operation, applyJobPlanResolution), each checked for shape."""
    op_details = details.get("jobOperationDetails")
    if op_details is not None and not isinstance(op_details, dict):
        raise invalid("jobOperationDetails must be an object")
    op_details = dict(op_details or {})
    operation = op_details.get("operation") or details.get("operation")
    if operation not in ("PLAN", "APPLY", "DESTROY"):
        if operation is None:
            raise missing("jobOperationDetails.operation is required")
        raise invalid(f"operation {operation!r} is not supported by the emulator (PLAN, APPLY, DESTROY)")
    resolution_in = details.get("applyJobPlanResolution") or {}
    if not isinstance(resolution_in, dict):
        raise invalid("applyJobPlanResolution must be an object")
    return op_details, operation, resolution_in


def _strategy(op_details: dict[str, Any], resolution_in: dict[str, Any]) -> tuple[Any, Any]:
    """(executionPlanStrategy, executionPlanJobId), from the deprecated resolution when unsaid."""
    strategy = op_details.get("executionPlanStrategy")
    plan_job_id = op_details.get("executionPlanJobId")
    if strategy is None:
        if resolution_in.get("isAutoApproved"):
            strategy = "AUTO_APPROVED"
        elif resolution_in.get("planJobId"):
            strategy, plan_job_id = "FROM_PLAN_JOB_ID", resolution_in["planJobId"]
        elif resolution_in.get("isUseLatestJobId"):
            strategy = "FROM_LATEST_PLAN_JOB"
    return strategy, plan_job_id


def _plan_to_apply(strategy: Any, plan_job_id: Any, jobs: Mapping[str, dict[str, Any]], stack_id: str) -> dict[str, Any]:
    """The SUCCEEDED PLAN job of ``stack_id`` an APPLY with this strategy applies."""
    if strategy == "FROM_PLAN_JOB_ID":
        if not plan_job_id:
            raise missing("executionPlanJobId is required with FROM_PLAN_JOB_ID")
        plan = jobs.get(plan_job_id)
        if plan is None:
            raise invalid(f"execution plan job {plan_job_id} not found")
    elif strategy == "FROM_LATEST_PLAN_JOB":
        plans = [j for j in jobs.values() if j["stackId"] == stack_id and j["operation"] == "PLAN"]
        if not plans:
            raise invalid(f"stack {stack_id} has no PLAN job to apply")
        plan = max(plans, key=lambda j: j["_startMs"])
    else:
        raise invalid(
            "an APPLY job requires executionPlanStrategy AUTO_APPROVED, FROM_PLAN_JOB_ID "
            "(with executionPlanJobId) or FROM_LATEST_PLAN_JOB"
        )
    if plan["stackId"] != stack_id or plan["operation"] != "PLAN":
        raise invalid(f"job {plan['id']} is not a PLAN job of stack {stack_id}")
    if plan["lifecycleState"] != "SUCCEEDED":
        raise invalid(f"PLAN job {plan['id']} is {plan['lifecycleState']}, not SUCCEEDED")
    return plan
