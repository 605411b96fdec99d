"""Deploy a stack zip through OCI Resource Manager with the real `oci` SDK: the `Deployer`.

Credentials come from `ociauth`, ``--var`` handling from `variables`, log reading from
`planlog`, result types and settings from `results`.  `Deployer` finds or creates the stack, runs PLAN / APPLY /
DESTROY jobs, follows them (log streaming plus status in as few requests as the
latency target allows) and reads outputs.  Nothing here prints or exits: progress
goes to the `Hooks` callbacks and failures are `generator.core.errors` classes.

>>> Deployer  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import oci
from oci.resource_manager import models

from generator.core.errors import Interrupted, JobConflict, JobInterrupted, OciConfigError, ResourceManagerError, Throttled

from . import policy, stackcreate
from .endpoint import MAX_SKEW_SECONDS, check_endpoint, clock_skew, request_clock, skew_message
from .following import JobFollower
from .ociauth import first_line as _first_line
from .results import OPERATIONS, DeployResult, Hooks, JobResult, JobStatus, LogLine, Output, PollSettings, RetrySettings, StackRef
from .sdk import KnownReachable, hold_interrupt, sdk_retry_strategy
from .variables import VariableSpec

# Stack identity: the display name alone is not unique in a compartment, so a stack is
# ours only when it also carries this freeform tag with the config's name.
STACK_TAG = stackcreate.STACK_TAG
TERRAFORM_VERSION = stackcreate.TERRAFORM_VERSION



# --------------------------------------------------------------------------- deployer


class Deployer:
    """One Resource Manager client plus the polling and retry policy around it."""

    # The polling used when none is given; the test fixtures swap in a quicker one for CLI runs.
    default_poll = PollSettings()

    def __init__(
        self,
        config: dict[str, Any],
        signer: Any,
        *,
        endpoint: str | None = None,
        hooks: Hooks | None = None,
        poll: PollSettings | None = None,
        retry: RetrySettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        follow_timeout: float = 7200.0,
    ) -> None:
        self.config = config
        self.endpoint = check_endpoint(endpoint) if endpoint is not None else None
        self.hooks = hooks or Hooks()
        self.poll = poll or self.default_poll
        self.retry = retry or RetrySettings()
        self.sleep = sleep
        self.clock = clock
        # How long `follow` waits for one job before handing back its id (the job keeps running).
        self.follow_timeout = follow_timeout
        self.source = config.get("_flowstack_source", "the OCI config")
        sdk_config = {k: v for k, v in config.items() if not k.startswith("_flowstack")}
        if not sdk_config.get("region"):
            raise OciConfigError(f"no region in {self.source}")
        # True once any answer (even an error) came back; see `sdk.KnownReachable`.
        self.reached = False
        strategy = sdk_retry_strategy(self.retry)
        strategy.checkers.add_checker(KnownReachable(self))
        try:
            self.client = oci.resource_manager.ResourceManagerClient(
                sdk_config,
                signer=signer,
                service_endpoint=endpoint,
                retry_strategy=strategy,
                # The breaker would turn a burst of 429s into an opaque CircuitBreakerError
                # for 30 s; the bounded retry strategy above already limits the load.
                circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy(),
                timeout=timeout,
            )
        except (oci.exceptions.ClientError, ValueError) as exc:
            raise OciConfigError(f"{self.source}: {_first_line(exc)}") from None
        # The job being followed or just created; a Ctrl-C reports it.
        self.current_job: tuple[str, str] | None = None
        # Calls made through `_call` (SDK retries not counted) and by the last `follow`.
        self.requests = 0
        self.last_follow_requests = 0

    # ---- plumbing

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, conflict_stack: str | None = None, **kwargs: Any) -> Any:
        """Call the SDK, turning its exceptions into one-line flowstack errors."""
        self.requests += 1
        try:
            response = fn(*args, **kwargs)
        except oci.exceptions.ServiceError as exc:
            self.reached = True
            raise self._service_error(what, exc, conflict_stack) from None
        except oci.exceptions.ClientError as exc:
            raise OciConfigError(f"{what}: {_first_line(exc)}") from None
        except (oci.exceptions.RequestException, oci.exceptions.ConnectTimeout, ConnectionError) as exc:
            where = self.endpoint or f"the {self.config.get('region')} endpoint"
            reason = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
            detail = reason.group(0) if reason else type(exc).__name__
            retried = f"; gave up after retrying for up to {self.retry.api_seconds:g} s" if self.reached else ""
            raise ResourceManagerError(f"cannot reach Resource Manager at {where} ({what}): {detail}{retried}") from None
        self.reached = True
        return response

    def _service_error(self, what: str, exc: Any, conflict_stack: str | None) -> Exception:
        status, code, message = exc.status, exc.code, (exc.message or "").strip()
        skew = clock_skew(getattr(exc, "headers", None), request_clock()) if status == 401 else None
        if skew is not None and abs(skew) > MAX_SKEW_SECONDS:
            return OciConfigError(skew_message(what, skew))
        if status == 401:
            return OciConfigError(
                f"the service rejected the request signature ({what}): check the fingerprint and key for {self.source}"
            )
        if status == 409 and conflict_stack:
            return JobConflict(conflict_stack, message or code or "409 Conflict")
        if status == 429:
            return Throttled(what, self.retry.api_seconds)
        if status == 404:
            return ResourceManagerError(f"{what}: not found or not authorized ({code}: {message})")
        return ResourceManagerError(f"{what} failed: HTTP {status} {code}: {message}")

    def _all(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        items: list[Any] = []
        page = None
        while True:
            if page:
                kwargs["page"] = page
            response = self._call(what, fn, *args, **kwargs)
            data = response.data
            items.extend(getattr(data, "items", data) or [])
            page = response.next_page if response.has_next_page else None
            if not page:
                return items

    # ---- stacks

    def find_stack(self, name: str, compartment_id: str) -> Any | None:
        """The ACTIVE stack named ``name`` carrying our tag, or None; duplicates name the repair command."""
        ours = stackcreate.list_ours(self, name, compartment_id)
        if len(ours) > 1:
            raise stackcreate.duplicates_error(name, ours)
        return ours[0] if ours else None

    def find_or_create_stack(
        self,
        name: str,
        compartment_id: str,
        zip_bytes: bytes,
        variables: Mapping[str, str],
        spec: VariableSpec | None = None,
    ) -> StackRef:
        """Create the stack, or upload the new zip to the existing one.

        Variables already on the stack are kept; ``variables`` override them.  With
        ``spec``, a required variable that would still have no value raises
        `MissingVariables` before anything is created or uploaded.
        """
        zip_b64 = base64.b64encode(zip_bytes).decode("ascii")
        found = self.find_stack(name, compartment_id)
        if found is None:
            if spec is not None:
                spec.check_values(variables)
            stack, created = stackcreate.create(self, name, compartment_id, zip_bytes, zip_b64, variables)
            if created:
                self.hooks.on_note(f"Created stack {name} ({stack.id})")
                return StackRef(stack.id, name, dict(stack.variables or {}), created=True)
            found = stack
        current = self._call(f"reading stack {found.id}", self.client.get_stack, found.id).data
        merged = {**(current.variables or {}), **variables}
        if spec is not None:
            spec.check_values(merged)
        tags = {**(current.freeform_tags or {}), STACK_TAG: name}
        details = models.UpdateStackDetails(
            config_source=models.UpdateZipUploadConfigSourceDetails(zip_file_base64_encoded=zip_b64),
            variables=merged,
            terraform_version=TERRAFORM_VERSION,
            freeform_tags=tags,
        )
        stack = self._call(
            f"updating stack {found.id}", self.client.update_stack, found.id, details, conflict_stack=found.id
        ).data
        self.hooks.on_note(f"Updated stack {name} ({stack.id}) with the new zip")
        return StackRef(stack.id, name, dict(stack.variables or merged), created=False)

    def _wait_stack_active(self, stack: Any) -> Any:
        # Real RM answers CREATING for a moment; a job on a CREATING stack is refused.
        delay = self.poll.first_interval
        deadline = self.clock() + 120
        while stack.lifecycle_state == "CREATING" and self.clock() < deadline:
            self.sleep(delay)
            delay = min(delay * self.poll.factor, self.poll.max_interval)
            stack = self._call(f"reading stack {stack.id}", self.client.get_stack, stack.id).data
        if stack.lifecycle_state != "ACTIVE":
            raise ResourceManagerError(f"stack {stack.id} is {stack.lifecycle_state}, not ACTIVE")
        return stack

    def set_variables(self, stack_id: str, variables: Mapping[str, str]) -> dict[str, str]:
        """Merge ``variables`` into the stack's variables (the zip is left alone)."""
        current = self._call(f"reading stack {stack_id}", self.client.get_stack, stack_id).data
        merged = {**(current.variables or {}), **variables}
        details = models.UpdateStackDetails(variables=merged)
        stack = self._call(
            f"updating stack {stack_id}", self.client.update_stack, stack_id, details, conflict_stack=stack_id
        ).data
        return dict(stack.variables or merged)

    def base_variables(self, compartment_id: str) -> dict[str, str]:
        """The variables RM's console fills in, taken from the OCI config and --compartment."""
        out = {"compartment_ocid": compartment_id, "region": str(self.config.get("region", ""))}
        if self.config.get("tenancy"):
            out["tenancy_ocid"] = str(self.config["tenancy"])
        return out

    # ---- jobs

    def start_job(self, stack_id: str, operation: str, plan_job_id: str | None = None) -> Any:
        """``POST /jobs``; returns the SDK Job. 409 (a job already running) is `JobConflict`."""
        operation = operation.upper()
        if operation == "PLAN":
            op: Any = models.CreatePlanJobOperationDetails()
        elif operation == "APPLY":
            op = models.CreateApplyJobOperationDetails(
                execution_plan_strategy="FROM_PLAN_JOB_ID" if plan_job_id else "AUTO_APPROVED",
                execution_plan_job_id=plan_job_id,
            )
        elif operation == "DESTROY":
            op = models.CreateDestroyJobOperationDetails(execution_plan_strategy="AUTO_APPROVED")
        else:
            raise ResourceManagerError(f"unknown job operation {operation!r}; expected one of {', '.join(OPERATIONS)}")
        details = models.CreateJobDetails(stack_id=stack_id, job_operation_details=op)
        job = None
        try:
            with hold_interrupt():
                job = self._call(
                    f"starting a {operation} job on stack {stack_id}",
                    self.client.create_job,
                    details,
                    conflict_stack=stack_id,
                ).data
                self.current_job = (job.id, operation)
        except KeyboardInterrupt:
            if job is None:
                raise Interrupted("interrupted before a job was started; nothing is running") from None
            raise JobInterrupted(job.id, operation) from None
        self.hooks.on_job_started(job.id, operation)
        return job

    def run_job(self, stack_id: str, operation: str, plan_job_id: str | None = None) -> JobResult:
        """Start a job and follow it to the end. A FAILED job is returned, not raised."""
        job = self.start_job(stack_id, operation, plan_job_id)
        return self.follow(job.id, job=job)

    def get_job(self, job_id: str) -> JobResult:
        return JobResult.from_job(self._call(f"reading job {job_id}", self.client.get_job, job_id).data)

    def latest_job(self, stack_id: str, operation: str | None = None, state: str | None = None) -> JobResult | None:
        """The newest job on the stack, optionally of one operation and lifecycle state."""
        kwargs: dict[str, Any] = {"stack_id": stack_id, "sort_by": "TIMECREATED", "sort_order": "DESC"}
        if state:
            kwargs["lifecycle_state"] = state
        jobs = self._all(f"listing jobs of stack {stack_id}", self.client.list_jobs, **kwargs)
        jobs = [j for j in jobs if operation is None or (j.operation or "").upper() == operation]
        if not jobs:
            return None
        newest = max(jobs, key=lambda j: j.time_created or datetime.min)
        return JobResult.from_job(newest)

    def follow(
        self,
        job_id: str,
        on_log: Callable[[LogLine], None] | None = None,
        on_status: Callable[[JobStatus], None] | None = None,
        *,
        job: Any = None,
    ) -> JobResult:
        """Stream a job's logs and wait for it to end; returns the final `JobResult` (see `following`).

        ``job`` is the Job the create call returned: given, the first status request
        waits ``first_interval``; without it the job is read at once (it may be over).
        """
        return JobFollower(self, job_id, on_log, on_status).run(job)

    def logs(self, job_id: str) -> list[LogLine]:
        """Every log line of a job, in order."""
        entries = self._all(
            f"reading logs of job {job_id}", self.client.get_job_logs, job_id, sort_order="ASC"
        )
        return [LogLine(e.timestamp, e.level or "INFO", e.message or "") for e in entries]

    def outputs(self, job_id: str) -> list[Output]:
        """The Terraform outputs an APPLY job recorded."""
        items = self._all(f"reading outputs of job {job_id}", self.client.list_job_outputs, job_id)
        return [
            Output(i.output_name, i.output_type, i.output_value, bool(i.is_sensitive), i.description) for i in items
        ]

    # ---- whole flows

    def deploy(
        self,
        name: str,
        compartment_id: str,
        zip_bytes: bytes,
        variables: Mapping[str, str] | None = None,
        *,
        apply: bool = True,
        confirm: Callable[[JobResult, tuple[int, int, int] | None], bool] | None = None,
        retry_capacity: int = 0,
        spec: VariableSpec | None = None,
        allow_replace: bool = False,
    ) -> DeployResult:
        """Create or update the stack, PLAN, then APPLY from that plan.

        With ``spec`` (the stack model's variables) every name in ``variables`` must be a
        declared variable (checked before any request), every required variable must have
        a value from ``variables`` or the existing stack (checked before the upload), and
        sensitive values are masked in notes.  A plan that replaces or destroys an
        ``oci_core_instance`` raises `InstanceReplacement` instead of applying unless
        ``allow_replace``; ``confirm`` is not asked then.

        ``confirm`` is asked once, after the first plan; when it returns False nothing is
        applied and the result's ``apply_job`` is None.  An APPLY that fails with "Out of
        host capacity" is retried up to ``retry_capacity`` times in the next availability
        domain (``availability_domain_number`` 1..3, wrapping) after a pause; one that
        fails with 429 TooManyRequests is retried in the same domain after a pause that
        doubles each time.
        """
        return policy.deploy(self, name, compartment_id, zip_bytes, variables, apply=apply, confirm=confirm,
                             retry_capacity=retry_capacity, spec=spec, allow_replace=allow_replace)

    def destroy(self, name: str, compartment_id: str) -> JobResult:
        """Run a DESTROY job on the stack; raise `JobFailed` if it fails."""
        stack = self.require_stack(name, compartment_id)
        job = self.run_job(stack.id, "DESTROY")
        if not job.succeeded:
            raise job.failure()
        return job

    def dedupe(self, name: str, compartment_id: str) -> tuple[Any, list[str]]:
        """Keep one of several stacks named ``name``; delete the empty duplicates (see `stackcreate.dedupe`)."""
        return stackcreate.dedupe(self, name, compartment_id)

    def require_stack(self, name: str, compartment_id: str) -> Any:
        stack = self.find_stack(name, compartment_id)
        if stack is None:
            raise ResourceManagerError(
                f"no stack {name!r} in compartment {compartment_id}; run `flowstack rm-apply` first"
            )
        return stack

    def resolve_job(self, name: str, compartment_id: str, job_id: str | None) -> JobResult:
        """``job_id`` if given, else the newest job on the config's stack."""
        if job_id:
            return self.get_job(job_id)
        stack = self.require_stack(name, compartment_id)
        job = self.latest_job(stack.id)
        if job is None:
            raise ResourceManagerError(f"stack {name!r} ({stack.id}) has no jobs yet")
        return job

    def latest_outputs(self, name: str, compartment_id: str) -> tuple[JobResult, list[Output]]:
        stack = self.require_stack(name, compartment_id)
        job = self.latest_job(stack.id, operation="APPLY", state="SUCCEEDED")
        if job is None:
            raise ResourceManagerError(f"stack {name!r} ({stack.id}) has no succeeded APPLY job yet")
        # A later DESTROY took the resources away: the old APPLY's outputs name nothing that exists.
        gone = self.latest_job(stack.id, operation="DESTROY", state="SUCCEEDED")
        if gone is not None and (gone.time_created or datetime.min) > (job.time_created or datetime.min):
            raise ResourceManagerError(f"stack {name!r}: DESTROY job {gone.id} removed its resources after the last APPLY; "
                                       "no outputs now (`flowstack rm-apply` creates them again)")
        return job, self.outputs(job.id)


__all__ = ["STACK_TAG", "TERRAFORM_VERSION", "Deployer"]
