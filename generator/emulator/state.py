"""Stacks and jobs of the Resource Manager emulator, kept in one JSON file.

Every change is written to the state file at once (a temporary file in the same
directory, fsync, rename), so a killed emulator loses nothing and a half-written file is
never seen.  A job does not need a live thread to make progress: its whole script (log
lines at offsets from its start, final state, outputs) is decided when it is created and
saved with it, and its state at any moment follows from the wall clock and its recorded
start.  A restarted emulator therefore resumes a job mid-way, and one that should have
finished while the emulator was down is finished on the first look.

Records are stored as the API shows them (camelCase fields) plus private fields whose
names start with ``_``; those never leave the emulator.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import simulate, tfjobs
from .auth import Principal
from .errors import EmulatorError
from .faults import FaultSpec

STATE_VERSION = 1
ACTIVE_JOB_STATES = ("ACCEPTED", "IN_PROGRESS", "CANCELING")
FINAL_JOB_STATES = ("SUCCEEDED", "FAILED", "CANCELED")
STACK_SUMMARY_FIELDS = (
    "id", "compartmentId", "displayName", "description", "timeCreated", "lifecycleState",
    "terraformVersion", "freeformTags", "definedTags",
)
JOB_SUMMARY_FIELDS = (
    "id", "stackId", "compartmentId", "displayName", "operation", "jobOperationDetails",
    "applyJobPlanResolution", "resolvedPlanJobId", "timeCreated", "timeFinished",
    "lifecycleState", "freeformTags", "definedTags",
)
CANCEL_DELAY_MS = 500


class EmulatorStateError(EmulatorError):
    """The state file cannot be read or written."""


class ApiError(Exception):
    """An API error response: HTTP ``status`` with body ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def not_found(kind: str, ocid: str) -> ApiError:
    return ApiError(404, "NotAuthorizedOrNotFound", f"{kind} {ocid} not found or not authorized")


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def format_ms(epoch_ms: int) -> str:
    """RFC 3339 with milliseconds and ``Z``, the form OCI uses and the SDK parses exactly."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def parse_time_us(value: str) -> int:
    """An RFC 3339 time from a query string, as integer microseconds since the epoch."""
    text = value.strip().replace(" ", "+")  # an unencoded "+00:00" arrives as " 00:00"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(f"{value!r} is not an RFC 3339 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def etag_of(record: Mapping[str, Any]) -> str:
    public = {k: v for k, v in record.items() if not k.startswith("_")}
    return hashlib.sha256(json.dumps(public, sort_keys=True).encode()).hexdigest()[:40]


def public_view(record: Mapping[str, Any], fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    keys = fields if fields is not None else [k for k in record if not k.startswith("_")]
    return {k: copy.deepcopy(record[k]) for k in keys if record.get(k) is not None}


def _str_map(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise invalid(f"{name} must be a map of strings to strings")
    return dict(value)


class EmulatorState:
    """All stacks, jobs and uploaded zips; thread-safe; saved after every change."""

    def __init__(
        self,
        path: str | Path,
        *,
        faults: FaultSpec | None = None,
        job_seconds: float = 3.0,
        region: str = "ap-chuncheon-1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.region = region
        self.job_seconds = job_seconds
        self.clock = clock
        self.lock = threading.RLock()
        self.data: dict[str, Any] = {
            "version": STATE_VERSION, "stacks": {}, "jobs": {}, "blobs": {}, "retryTokens": {}, "faults": {},
        }
        if self.path.exists():
            self._load()
        # Faults given on the command line win; otherwise the saved ones carry on.
        self.faults = faults if faults is not None else FaultSpec(self.data.get("faults") or {}, source=str(self.path))
        self.tfjobs = tfjobs.attach(self.path, self.data["jobs"], self.now_ms())  # real Terraform per job, if given
        self.save()

    # ------------------------------------------------------------------ persistence

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EmulatorStateError(f"state file {self.path}: cannot be read ({exc})") from exc
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise EmulatorStateError(
                f"state file {self.path}: not an emulator state file of version {STATE_VERSION}; "
                f"move it away to start empty"
            )
        for key in ("stacks", "jobs", "blobs", "retryTokens", "faults"):
            data.setdefault(key, {})
        self.data = data

    def save(self) -> None:
        """Write the whole state atomically: readers see the old file or the new, never half."""
        with self.lock:
            self.data["faults"] = self.faults.to_dict() if hasattr(self, "faults") else self.data.get("faults", {})
            text = json.dumps(self.data, separators=(",", ":"), sort_keys=True)
            directory = self.path.parent
            directory.mkdir(parents=True, exist_ok=True)
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as handle:
                        handle.write(text)
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(tmp, self.path)
                except BaseException:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
                    raise
            except OSError as exc:
                raise EmulatorStateError(f"state file {self.path}: cannot be written ({exc})") from exc

    # ------------------------------------------------------------------ helpers

    def now_ms(self) -> int:
        return int(round(self.clock() * 1000))

    def _new_id(self, kind: str) -> str:
        return f"ocid1.{kind}.oc1.{self.region}.amaaaaaa{secrets.token_hex(26)}"

    def _store_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.data["blobs"].setdefault(digest, base64.b64encode(data).decode("ascii"))
        return digest

    def _blob(self, digest: str) -> bytes:
        return base64.b64decode(self.data["blobs"][digest])

    def _stack(self, stack_id: str, *, allow_deleted: bool = False) -> dict[str, Any]:
        stack = self.data["stacks"].get(stack_id)
        if stack is None or (stack["lifecycleState"] == "DELETED" and not allow_deleted):
            raise not_found("Stack", stack_id)
        return stack

    def _job(self, job_id: str) -> dict[str, Any]:
        job = self.data["jobs"].get(job_id)
        if job is None:
            raise not_found("Job", job_id)
        return job

    @staticmethod
    def _check_etag(record: Mapping[str, Any], if_match: str | None) -> None:
        if if_match and if_match != "*" and if_match != etag_of(record):
            raise ApiError(412, "NoEtagMatch", "The ETag specified in the if-match header does not match the resource's current ETag")

    def _retry_hit(self, token: str | None, kind: str) -> dict[str, Any] | None:
        if not token:
            return None
        hit = self.data["retryTokens"].get(token)
        if hit is None:
            return None
        if hit["kind"] != kind:
            raise ApiError(409, "InvalidatedRetryToken", "the opc-retry-token was already used for another kind of request")
        return self.data["stacks" if kind == "stack" else "jobs"].get(hit["id"])

    # ------------------------------------------------------------------ stacks

    def create_stack(self, details: Any, principal: Principal | None, retry_token: str | None = None) -> dict[str, Any]:
        if not isinstance(details, dict):
            raise invalid("the body must be a CreateStackDetails object")
        with self.lock:
            self.advance()
            hit = self._retry_hit(retry_token, "stack")
            if hit is not None:
                return hit
            compartment = details.get("compartmentId")
            if not isinstance(compartment, str) or not compartment:
                raise ApiError(400, "MissingParameter", "compartmentId is required")
            source = details.get("configSource")
            if not isinstance(source, dict):
                raise ApiError(400, "MissingParameter", "configSource is required")
            zip_digest, working_dir = self._config_source(source, require_zip=True)
            terraform_version = details.get("terraformVersion") or simulate.DEFAULT_TERRAFORM_VERSION
            self._check_terraform_version(terraform_version)
            now = self.now_ms()
            stack: dict[str, Any] = {
                "id": self._new_id("ormstack"),
                "compartmentId": compartment,
                "displayName": details.get("displayName") or "ormstack" + format_ms(now)[:19].replace("-", "").replace(":", "").replace("T", ""),
                "description": details.get("description"),
                "timeCreated": format_ms(now),
                "lifecycleState": "ACTIVE",
                "configSource": {"configSourceType": "ZIP_UPLOAD", "workingDirectory": working_dir},
                "variables": _str_map(details.get("variables"), "variables"),
                "terraformVersion": terraform_version,
                "stackDriftStatus": "NOT_CHECKED",
                "isThirdPartyProviderExperienceEnabled": False,
                "freeformTags": _str_map(details.get("freeformTags"), "freeformTags"),
                "definedTags": details.get("definedTags") or {},
                "_zip": zip_digest,
                "_applied": [],
                "_tenancy": principal.tenancy if principal else None,
            }
            self.data["stacks"][stack["id"]] = stack
            if retry_token:
                self.data["retryTokens"][retry_token] = {"kind": "stack", "id": stack["id"]}
            self.save()
            return stack

    def _config_source(self, source: dict[str, Any], *, require_zip: bool) -> tuple[str | None, str | None]:
        kind = source.get("configSourceType")
        if kind != "ZIP_UPLOAD":
            raise invalid(f"configSourceType {kind!r} is not supported by the emulator (only ZIP_UPLOAD)")
        encoded = source.get("zipFileBase64Encoded")
        digest = None
        if encoded is None:
            if require_zip:
                raise ApiError(400, "MissingParameter", "configSource.zipFileBase64Encoded is required")
        else:
            try:
                digest = self._store_blob(base64.b64decode(encoded, validate=True))
            except (binascii.Error, ValueError, TypeError) as exc:
                raise invalid("configSource.zipFileBase64Encoded is not valid base64") from exc
        working_dir = source.get("workingDirectory")
        if working_dir is not None and not isinstance(working_dir, str):
            raise invalid("configSource.workingDirectory must be a string")
        return digest, working_dir

    @staticmethod
    def _check_terraform_version(version: Any) -> None:
        if version not in simulate.TERRAFORM_BUILDS:
            raise invalid(f"terraformVersion {version!r} is not supported; use one of {', '.join(simulate.TERRAFORM_BUILDS)}")

    def get_stack(self, stack_id: str) -> dict[str, Any]:
        with self.lock:
            self.advance()
            return self._stack(stack_id, allow_deleted=True)

    def list_stacks(self, *, compartment_id: str | None, stack_id: str | None, lifecycle_state: str | None,
                    display_name: str | None) -> list[dict[str, Any]]:
        if not compartment_id and not stack_id:
            raise ApiError(400, "MissingParameter", "either compartmentId or id is required")
        with self.lock:
            self.advance()
            filters = {"compartmentId": compartment_id, "id": stack_id, "displayName": display_name, "lifecycleState": lifecycle_state}
            # Deleted stacks only show when asked for, as they fall out of real listings.
            return [s for s in self.data["stacks"].values()
                    if _matches(s, filters) and (lifecycle_state or s["lifecycleState"] != "DELETED")]

    def update_stack(self, stack_id: str, details: Any, if_match: str | None) -> dict[str, Any]:
        if not isinstance(details, dict):
            raise invalid("the body must be an UpdateStackDetails object")
        with self.lock:
            self.advance()
            stack = self._stack(stack_id)
            self._check_etag(stack, if_match)
            updated = copy.deepcopy(stack)
            if "configSource" in details and details["configSource"] is not None:
                digest, working_dir = self._config_source(details["configSource"], require_zip=False)
                if digest:
                    updated["_zip"] = digest
                if "workingDirectory" in details["configSource"]:
                    updated["configSource"]["workingDirectory"] = working_dir
            for key in ("displayName", "description"):
                if details.get(key) is not None:
                    updated[key] = details[key]
            if details.get("variables") is not None:
                updated["variables"] = _str_map(details["variables"], "variables")
            if details.get("freeformTags") is not None:
                updated["freeformTags"] = _str_map(details["freeformTags"], "freeformTags")
            if details.get("definedTags") is not None:
                updated["definedTags"] = details["definedTags"]
            if details.get("terraformVersion") is not None:
                self._check_terraform_version(details["terraformVersion"])
                updated["terraformVersion"] = details["terraformVersion"]
            self.data["stacks"][stack_id] = updated
            self.save()
            return updated

    def delete_stack(self, stack_id: str, if_match: str | None) -> None:
        with self.lock:
            self.advance()
            stack = self._stack(stack_id)
            self._check_etag(stack, if_match)
            running = self._active_job(stack_id)
            if running:
                raise ApiError(409, "Conflict", f"stack {stack_id} cannot be deleted while job {running['id']} is {running['lifecycleState']}")
            stack["lifecycleState"] = "DELETED"
            self.save()

    def stack_zip(self, stack_id: str) -> bytes:
        with self.lock:
            return self._blob(self._stack(stack_id)["_zip"])

    # ------------------------------------------------------------------ jobs

    def _active_job(self, stack_id: str) -> dict[str, Any] | None:
        for job in self.data["jobs"].values():
            if job["stackId"] == stack_id and job["lifecycleState"] in ACTIVE_JOB_STATES:
                return job
        return None

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
                raise ApiError(400, "MissingParameter", "stackId is required")
            stack = self._stack(stack_id)
            operation, op_details, resolution, resolved_plan = self._resolve_operation(details, stack_id)

            # A fault may say someone else started a job on this stack just before us.
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
            job = self._start_job(
                stack, operation, op_details, resolution, resolved_plan,
                display_name=details.get("displayName"),
                tags=_str_map(details.get("freeformTags"), "freeformTags"),
                defined_tags=details.get("definedTags") or {},
                principal=principal,
            )
            if retry_token:
                self.data["retryTokens"][retry_token] = {"kind": "job", "id": job["id"]}
            self.save()
            return job

    def _resolve_operation(self, details: dict[str, Any], stack_id: str) -> tuple[str, dict[str, Any], dict[str, Any] | None, str | None]:  # noqa: C901 - to split (tests/test_sizes.py DEBT)
        """Read the operation the way the API does: jobOperationDetails first, then the
        deprecated top-level ``operation`` + ``applyJobPlanResolution``."""
        op_details = details.get("jobOperationDetails")
        if op_details is not None and not isinstance(op_details, dict):
            raise invalid("jobOperationDetails must be an object")
        op_details = dict(op_details or {})
        operation = op_details.get("operation") or details.get("operation")
        if operation not in ("PLAN", "APPLY", "DESTROY"):
            if operation is None:
                raise ApiError(400, "MissingParameter", "jobOperationDetails.operation is required")
            raise invalid(f"operation {operation!r} is not supported by the emulator (PLAN, APPLY, DESTROY)")
        resolution_in = details.get("applyJobPlanResolution") or {}
        if not isinstance(resolution_in, dict):
            raise invalid("applyJobPlanResolution must be an object")
        out: dict[str, Any] = {"operation": operation}
        if op_details.get("terraformAdvancedOptions") is not None:
            out["terraformAdvancedOptions"] = op_details["terraformAdvancedOptions"]
        if operation == "PLAN":
            return operation, out, None, None

        strategy = op_details.get("executionPlanStrategy")
        plan_job_id = op_details.get("executionPlanJobId")
        if strategy is None:
            if resolution_in.get("isAutoApproved"):
                strategy = "AUTO_APPROVED"
            elif resolution_in.get("planJobId"):
                strategy, plan_job_id = "FROM_PLAN_JOB_ID", resolution_in["planJobId"]
            elif resolution_in.get("isUseLatestJobId"):
                strategy = "FROM_LATEST_PLAN_JOB"
        if operation == "DESTROY":
            if strategy != "AUTO_APPROVED":
                raise invalid("a DESTROY job requires executionPlanStrategy AUTO_APPROVED")
            out["executionPlanStrategy"] = strategy
            return operation, out, {"isAutoApproved": True}, None

        if strategy == "AUTO_APPROVED":
            out["executionPlanStrategy"] = strategy
            return operation, out, {"isAutoApproved": True}, None
        if strategy == "FROM_PLAN_JOB_ID":
            if not plan_job_id:
                raise ApiError(400, "MissingParameter", "executionPlanJobId is required with FROM_PLAN_JOB_ID")
            plan = self.data["jobs"].get(plan_job_id)
            if plan is None:
                raise invalid(f"execution plan job {plan_job_id} not found")
        elif strategy == "FROM_LATEST_PLAN_JOB":
            plans = [j for j in self.data["jobs"].values() if j["stackId"] == stack_id and j["operation"] == "PLAN"]
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
        out["executionPlanStrategy"] = strategy
        if strategy == "FROM_PLAN_JOB_ID":
            out["executionPlanJobId"] = plan["id"]
        resolution = {"planJobId": plan["id"], "isAutoApproved": False, "isUseLatestJobId": strategy == "FROM_LATEST_PLAN_JOB"}
        return operation, out, resolution, plan["id"]

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
        job_id = self._new_id("ormjob")
        start = self.now_ms()
        zip_digest = stack["_zip"]
        config = simulate.analyse_zip(self._blob(zip_digest), stack["configSource"].get("workingDirectory"))
        variables = dict(stack["variables"])
        auto = {
            "tenancy_ocid": stack.get("_tenancy") or (principal.tenancy if principal else ""),
            "compartment_ocid": stack["compartmentId"],
            "region": self.region,
            "current_user_ocid": principal.user if principal else "",
        }
        tf_variables = {**auto, **variables}

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

        plan = simulate.plan_job(
            operation=operation, job_id=job_id, stack_id=stack["id"], region=self.region,
            config=config, variables=tf_variables, applied=list(stack["_applied"]),
            terraform_version=stack["terraformVersion"], duration_s=duration,
            capacity_failure=bool(capacity), injected_failure=injected, replace=replace,
        )
        job = {
            "id": job_id,
            "stackId": stack["id"],
            "compartmentId": stack["compartmentId"],
            "displayName": display_name or f"ormjob{format_ms(start)[:19].replace('-', '').replace(':', '').replace('T', '')}",
            "operation": operation,
            "jobOperationDetails": op_details,
            "applyJobPlanResolution": resolution,
            "resolvedPlanJobId": resolved_plan,
            "timeCreated": format_ms(start),
            "timeFinished": None,
            "lifecycleState": "ACCEPTED",
            "failureDetails": None,
            "cancellationDetails": None,
            "workingDirectory": stack["configSource"].get("workingDirectory"),
            "variables": variables,
            "configSource": {"configSourceRecordType": "ZIP_UPLOAD"},
            "isThirdPartyProviderExperienceEnabled": False, "isProviderUpgradeRequired": False,
            "freeformTags": tags,
            "definedTags": defined_tags or {},
            "_startMs": start,
            "_zip": zip_digest,
            "_durationMs": plan.duration_ms,
            "_acceptedMs": plan.accepted_ms, "_endState": plan.state,
            "_failure": plan.failure,
            "_outputs": plan.outputs,
            "_script": [line.to_json() for line in plan.script],
            "_cancel": None, "_done": False, "_replace": replace,
        }
        self.data["jobs"][job_id] = job
        if self.tfjobs:  # faults decided above reach the provider double: capacity per AD, a replacement
            self.tfjobs.start(self, job, self._blob(zip_digest), tf_variables, replace=bool(replace) and operation == "PLAN",
                              capacity_ad=simulate.availability_domain(tf_variables, config, self.faults.ad_variables()) if capacity else None)
        return job

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            self.advance()
            return self._job(job_id)

    def list_jobs(self, *, compartment_id: str | None, stack_id: str | None, job_id: str | None,
                  lifecycle_state: str | None, display_name: str | None) -> list[dict[str, Any]]:
        if not (compartment_id or stack_id or job_id):
            raise ApiError(400, "MissingParameter", "one of compartmentId, stackId or id is required")
        with self.lock:
            self.advance()
            filters = {"compartmentId": compartment_id, "stackId": stack_id, "id": job_id,
                       "lifecycleState": lifecycle_state, "displayName": display_name}
            return [j for j in self.data["jobs"].values() if _matches(j, filters)]

    def cancel_job(self, job_id: str, if_match: str | None, is_forced: bool = False) -> None:
        with self.lock:
            self.advance()
            job = self._job(job_id)
            self._check_etag(job, if_match)
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

    # ------------------------------------------------------------------ time passing

    def advance(self) -> bool:
        """Bring every running job to the state the clock says it is in; save if any moved."""
        with self.lock:
            now = self.now_ms()
            changed = False
            for job in self.data["jobs"].values():
                if job["_done"]:
                    continue
                elapsed = now - job["_startMs"]
                if job["_cancel"]:
                    end = job["_cancel"]["endMs"]
                    target = "CANCELING" if elapsed < end else "CANCELED"
                else:
                    end = job["_durationMs"]
                    if elapsed < job["_acceptedMs"]:
                        target = "ACCEPTED"
                    elif elapsed < end:
                        target = "IN_PROGRESS"
                    else:
                        target = job["_endState"]
                if target == job["lifecycleState"]:
                    continue
                changed = True
                job["lifecycleState"] = target
                if target in FINAL_JOB_STATES:
                    self._finish(job, end)
            if changed:
                self.save()
            return changed

    def _finish(self, job: dict[str, Any], end_ms: int) -> None:
        job["timeFinished"] = format_ms(job["_startMs"] + end_ms)
        if job["lifecycleState"] == "FAILED":
            job["failureDetails"] = job["_failure"]
        job["_done"] = True
        stack = self.data["stacks"].get(job["stackId"])
        if stack is None:
            return
        # What Terraform got done before it stopped is in the stack's state, whatever the end.
        applied = list(stack["_applied"])
        for offset, _level, _message, effect in job["_script"]:
            if offset > end_ms or not effect:
                continue
            action, address = effect
            if action == "create" and address not in applied:
                applied.append(address)
            elif action == "destroy" and address in applied:
                applied.remove(address)
        stack["_applied"] = applied

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


def _matches(item: dict[str, Any], filters: dict[str, str | None]) -> bool:
    """The list filters of the API: every filter given must equal the item's field."""
    return all(not wanted or item.get(field) == wanted for field, wanted in filters.items())
