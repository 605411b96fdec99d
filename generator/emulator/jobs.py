"""Jobs of the Resource Manager emulator: create (and start), read, list, cancel, logs, outputs.

`JobsMixin._start_job` is the one place a job starts: it reads the stack's zip, decides
which faults fire, has `simulate.plan_job` write the job's whole script and stores the
record.  Records carry the script and its end in private ``_`` fields; `progress` moves
them on with the clock.

>>> state.create_job({"stackId": stack_id, "jobOperationDetails": {"operation": "PLAN"}}, None)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import simulate
from .auth import Principal
from .operations import resolve_operation
from .progress import Progress
from .records import ApiError, check_etag, default_name, format_ms, invalid, matches, missing, str_map

CANCEL_DELAY_MS = 500


@dataclass
class JobFaults:
    """What the faults spec does to one new job."""

    capacity_failure: bool
    injected_failure: dict[str, str] | None
    duration_s: float
    replace: list[str]


class JobsMixin(Progress):
    """The job endpoints' state changes (`EmulatorState` mixes them in)."""

    def create_job(self, details: Any, principal: Principal | None, retry_token: str | None = None) -> dict[str, Any]:
        if not isinstance(details, dict):
            raise invalid("the body must be a CreateJobDetails object")
        with self.lock:
            self.advance()
            hit = self._retry_hit(retry_token, "job")
            if hit is not None:
                return hit
            stack_id = details.get("stackId")
            if not isinstance(stack_id, str) or not stack_id:
                raise missing("stackId is required")
            stack = self._stack(stack_id)
            operation, op_details, resolution, resolved_plan = resolve_operation(details, self.data["jobs"], stack_id)
            self._check_no_running_job(stack)
            job = self._start_job(
                stack, operation, op_details, resolution, resolved_plan,
                display_name=details.get("displayName"),
                tags=str_map(details.get("freeformTags"), "freeformTags"),
                defined_tags=details.get("definedTags") or {},
                principal=principal,
            )
            self._remember_retry(retry_token, "job", job["id"])
            self.save()
            return job

    def _check_no_running_job(self, stack: dict[str, Any]) -> None:
        """409 when a job runs on ``stack``; a fault may say someone else just started one."""
        stack_id = stack["id"]
        if self._active_job(stack_id) is None:
            rule = self.faults.take_running_job(stack_id)
            if rule:
                self._start_foreign_job(stack, rule)
        running = self._active_job(stack_id)
        if running:
            raise ApiError(
                409, "IncorrectState",
                f"stack {stack_id} already has job {running['id']} ({running['operation']}) "
                f"in state {running['lifecycleState']}; only one job may run on a stack at a time",
            )

    def _start_job(
        self,
        stack: dict[str, Any],
        operation: str,
        op_details: dict[str, Any],
        resolution: dict[str, Any] | None,
        resolved_plan: str | None,
        *,
        display_name: str | None,
        tags: dict[str, str],
        principal: Principal | None,
        defined_tags: dict[str, Any] | None = None,
        seconds: float | None = None,
        allow_faults: bool = True,
    ) -> dict[str, Any]:
        """Start a job on ``stack``: its whole script is written now and saved with it."""
        job_id = self._new_id("ormjob")
        start = self.now_ms()
        config = simulate.analyse_zip(self._blob(stack["_zip"]), stack["configSource"].get("workingDirectory"))
        variables = dict(stack["variables"])
        tf_variables = {**self._auto_variables(stack, principal), **variables}
        faults = self._job_faults(stack, operation, config, tf_variables, resolved_plan, seconds, allow_faults)
        plan = simulate.plan_job(
            operation=operation, job_id=job_id, stack_id=stack["id"], region=self.region,
            config=config, variables=tf_variables, applied=list(stack["_applied"]),
            terraform_version=stack["terraformVersion"], duration_s=faults.duration_s,
            capacity_failure=faults.capacity_failure, injected_failure=faults.injected_failure, replace=faults.replace,
        )
        job = {
            "id": job_id, "stackId": stack["id"], "compartmentId": stack["compartmentId"],
            "displayName": display_name or default_name("ormjob", start),
            "operation": operation, "jobOperationDetails": op_details,
            "applyJobPlanResolution": resolution, "resolvedPlanJobId": resolved_plan,
            "timeCreated": format_ms(start), "timeFinished": None, "lifecycleState": "ACCEPTED",
            "failureDetails": None, "cancellationDetails": None,
            "workingDirectory": stack["configSource"].get("workingDirectory"), "variables": variables,
            "configSource": {"configSourceRecordType": "ZIP_UPLOAD"},
            "isThirdPartyProviderExperienceEnabled": False, "isProviderUpgradeRequired": False,
            "freeformTags": tags, "definedTags": defined_tags or {},
            "_startMs": start, "_zip": stack["_zip"], **_script_fields(plan), "_replace": faults.replace,
        }
        self.data["jobs"][job_id] = job
        if self.tfjobs:  # faults decided above reach the provider double: capacity per AD, a replacement
            ad = simulate.availability_domain(tf_variables, config, self.faults.ad_variables()) if faults.capacity_failure else None
            self.tfjobs.start(self, job, self._blob(stack["_zip"]), tf_variables,
                              replace=bool(faults.replace) and operation == "PLAN", capacity_ad=ad)
        return job

    def _auto_variables(self, stack: dict[str, Any], principal: Principal | None) -> dict[str, str]:
        """The variables Resource Manager fills in itself; the stack's own values win over them."""
        return {
            "tenancy_ocid": stack.get("_tenancy") or (principal.tenancy if principal else ""),
            "compartment_ocid": stack["compartmentId"],
            "region": self.region,
            "current_user_ocid": principal.user if principal else "",
        }

    def _job_faults(self, stack: dict[str, Any], operation: str, config: simulate.TfConfig, tf_variables: dict[str, str],
                    resolved_plan: str | None, seconds: float | None, allow_faults: bool) -> JobFaults:
        """Take the faults that fire for this new job (their counts go down), in a fixed order."""
        capacity = injected = None
        duration = seconds
        # Instances a PLAN replaces (replace_instance_next); an APPLY of that plan does it.
        replace: list[str] = list(self.data["jobs"][resolved_plan].get("_replace") or []) if resolved_plan else []
        if allow_faults:
            if operation == "PLAN" and not config.error:
                existing = [r.address for r in config.resources if r.type == "oci_core_instance" and r.address in stack["_applied"]]
                if existing and self.faults.take_replace_instance_next():
                    replace = existing
            if operation == "APPLY" and not config.error:
                launches = [r for r in config.resources if r.type == "oci_core_instance" and r.address not in stack["_applied"]]
                if launches:
                    ad = simulate.availability_domain(tf_variables, config, self.faults.ad_variables())
                    capacity = self.faults.take_capacity_failure(ad)
            injected = self.faults.take_fail_next(operation)
            if duration is None:
                duration = self.faults.take_slow_next(operation)
        if duration is None:
            duration = self.faults.job_seconds(self.job_seconds)
        return JobFaults(bool(capacity), injected, duration, replace)

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            self.advance()
            return self._job(job_id)

    def list_jobs(self, *, compartment_id: str | None, stack_id: str | None, job_id: str | None,
                  lifecycle_state: str | None, display_name: str | None) -> list[dict[str, Any]]:
        if not (compartment_id or stack_id or job_id):
            raise missing("one of compartmentId, stackId or id is required")
        with self.lock:
            self.advance()
            filters = {"compartmentId": compartment_id, "stackId": stack_id, "id": job_id,
                       "lifecycleState": lifecycle_state, "displayName": display_name}
            return [j for j in self.data["jobs"].values() if matches(j, filters)]

    def cancel_job(self, job_id: str, if_match: str | None, is_forced: bool = False) -> None:
        with self.lock:
            self.advance()
            job = self._job(job_id)
            check_etag(job, if_match)
            if job["lifecycleState"] == "CANCELING":
                return
            if job["lifecycleState"] not in ("ACCEPTED", "IN_PROGRESS"):
                raise ApiError(409, "IncorrectState", f"job {job_id} is {job['lifecycleState']} and cannot be canceled")
            at = max(self.now_ms() - job["_startMs"], 0)
            delay = 0 if is_forced else min(CANCEL_DELAY_MS, job["_durationMs"])
            # Everything Terraform had not printed yet never happens.
            kept = [line for line in job["_script"] if line[0] < at]
            last = kept[-1][0] if kept else -1
            tail = simulate.cancel_lines(max(at, last + 1), max(delay, 1))
            job["_script"] = kept + [line.to_json() for line in tail]
            job["_cancel"] = {"atMs": at, "endMs": tail[-1].offset_ms}
            job["lifecycleState"] = "CANCELING"
            job["cancellationDetails"] = {"isForced": bool(is_forced)}
            self.save()

    def job_logs(self, job_id: str) -> list[dict[str, Any]]:
        """The log entries printed so far, oldest first."""
        with self.lock:
            self.advance()
            job = self._job(job_id)
            elapsed = self.now_ms() - job["_startMs"]
            entries = []
            for offset, level, message, _effect in job["_script"]:
                if offset > elapsed and not job["_done"]:
                    break
                entries.append(
                    {"type": simulate.LOG_TYPE, "level": level, "timestamp": format_ms(job["_startMs"] + offset), "message": message}
                )
            return entries

    def job_outputs(self, job_id: str) -> list[dict[str, Any]]:
        with self.lock:
            self.advance()
            job = self._job(job_id)
            if job["lifecycleState"] != "SUCCEEDED":
                return []
            return copy.deepcopy(job["_outputs"])

    def job_zip(self, job_id: str) -> bytes:
        with self.lock:
            return self._blob(self._job(job_id)["_zip"])

    # ------------------------------------------------------------------ faults

    def set_faults(self, spec: Mapping[str, Any] | None, source: str = "faults") -> dict[str, Any]:
        with self.lock:
            self.faults.replace(spec, source=source)
            rule = self.faults.to_dict().get("running_job")
            if rule and rule.get("stack_id"):
                stack = self._stack(rule["stack_id"])
                self.faults.take_running_job(None)
                if self._active_job(stack["id"]) is None:
                    self._start_foreign_job(stack, rule)
            self.save()
            return self.faults.to_dict()

    def _start_foreign_job(self, stack: dict[str, Any], rule: Mapping[str, Any]) -> dict[str, Any]:
        """The ``running_job`` fault: a real job, as if started from the console."""
        operation = rule["operation"]
        approved = operation != "PLAN"
        return self._start_job(
            stack, operation,
            {"operation": operation, **({"executionPlanStrategy": "AUTO_APPROVED"} if approved else {})},
            {"isAutoApproved": True} if approved else None, None,
            display_name=f"{operation.lower()}-job-started-elsewhere",
            tags={"emulator-fault": "running_job"}, principal=None, seconds=rule["seconds"],
            allow_faults=False,
        )


def _script_fields(plan: simulate.JobPlan) -> dict[str, Any]:
    """The private fields that hold a job's future, from `simulate.plan_job`'s answer."""
    return {
        "_durationMs": plan.duration_ms,
        "_acceptedMs": plan.accepted_ms,
        "_endState": plan.state,
        "_failure": plan.failure,
        "_outputs": plan.outputs,
        "_script": [line.to_json() for line in plan.script],
        "_cancel": None,
        "_done": False,
    }
