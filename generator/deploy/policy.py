"""The deploy policy: PLAN, refuse a server replacement unless allowed, ask, APPLY, retry capacity and 429.

`Deployer.deploy` runs it; it uses only the deployer's stack and job calls, so the
policy reads top to bottom here.

>>> next_domain("3")
'1'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from generator.core.errors import CapacityFailed, InstanceReplacement, Interrupted, Throttled

from .planlog import CAPACITY_PATTERN, THROTTLE_PATTERN, instance_changes, plan_summary
from .results import DeployResult, JobResult
from .variables import VariableSpec, mask_variables

AD_VARIABLE = "availability_domain_number"
AD_NAME_VARIABLE = "availability_domain_name"  # when set, the stack ignores the number
# The stack wraps the number over the region's domains (element()), so 1..3 is safe in
# one-domain regions such as ap-chuncheon-1 too.
AD_COUNT = 3

Confirm = Callable[[JobResult, "tuple[int, int, int] | None"], bool]


def next_domain(current: str) -> str:
    """The availability domain number to try after ``current`` (1..`AD_COUNT`, wrapping)."""
    try:
        return str(int(current) % AD_COUNT + 1)
    except ValueError:
        return "1"


def deploy(d: Any, name: str, compartment_id: str, zip_bytes: bytes, variables: Mapping[str, str] | None = None, *,
           apply: bool = True, confirm: Confirm | None = None, retry_capacity: int = 0,
           spec: VariableSpec | None = None, allow_replace: bool = False) -> DeployResult:
    """See `Deployer.deploy`."""
    if spec is not None:
        spec.check_names(variables or {})
    sensitive = spec.sensitive if spec is not None else frozenset()
    wanted = {**d.base_variables(compartment_id), **(variables or {})}
    stack = d.find_or_create_stack(name, compartment_id, zip_bytes, wanted, spec)
    if variables:
        shown = ", ".join(f"{k}={v}" for k, v in mask_variables(variables, sensitive).items())
        d.hooks.on_note(f"Variables set: {shown}")
    attempt, pause = 0, d.retry.capacity_pause
    while True:
        attempt += 1
        result = _plan(d, stack, attempt, apply=apply, allow_replace=allow_replace)
        if not apply or (attempt == 1 and confirm is not None and not confirm(result.plan_job, result.plan)):
            return result
        try:
            started = d.start_job(stack.id, "APPLY", plan_job_id=result.plan_job.id)
        except Throttled:
            # RM itself throttles job creation: same domain, longer pause each time.
            if attempt > retry_capacity:
                raise
            pause_for(d, pause, f"Resource Manager answered 429 TooManyRequests; trying again in {pause:g} s")
            pause = min(pause * d.retry.throttle_factor, d.retry.max_pause)
            continue
        result.apply_job = d.follow(started.id, job=started)
        if result.apply_job.succeeded:
            result.outputs = d.outputs(result.apply_job.id)
            return result
        pause = _before_retry(d, stack, result.apply_job, attempt, retry_capacity, pause)


def _plan(d: Any, stack: Any, attempt: int, *, apply: bool, allow_replace: bool) -> DeployResult:
    """Run a PLAN; a plan that replaces the server is refused for an apply unless ``allow_replace``."""
    plan_job = d.run_job(stack.id, "PLAN")
    if not plan_job.succeeded:
        raise plan_job.failure()
    summary = plan_summary(plan_job.lines)
    changes = instance_changes(plan_job.lines)
    if changes:
        listed = ", ".join(f"{address} {action}" for address, action in changes)
        if not apply:
            d.hooks.on_note(
                f"This plan changes the server ({listed}): its boot disk would be wiped, and its public IP "
                "would change unless it is a reserved one (network.reserved_ip); rm-apply refuses it without --allow-replace"
            )
        elif not allow_replace:
            raise InstanceReplacement(plan_job.id, changes, summary)
        else:
            d.hooks.on_note(
                f"--allow-replace: going ahead although this plan changes the server ({listed}); "
                "its boot disk is wiped (a reserved public IP stays, an ephemeral one changes)"
            )
    return DeployResult(stack, plan_job, summary, attempts=attempt, instance_changes=changes)


def _before_retry(d: Any, stack: Any, apply_job: JobResult, attempt: int, retry_capacity: int, pause: float) -> float:
    """After a failed APPLY: raise, or move on (capacity: the next domain) and pause; the next pause."""
    reason = retryable(apply_job)
    if reason is None or attempt > retry_capacity:
        if reason and retry_capacity:
            d.hooks.on_note(f"Giving up after {attempt} tries")
        if reason == "capacity" and not retry_capacity:
            current = stack.variables.get(AD_NAME_VARIABLE) or stack.variables.get(AD_VARIABLE) or "1"
            raise CapacityFailed(apply_job.failure(), f"no A1 capacity in availability domain {current} now: run again with "
                                 f"--retry-capacity 3 to try the other domains, or choose one with --var {AD_VARIABLE}=N")
        raise apply_job.failure()
    if reason == "capacity" and stack.variables.get(AD_NAME_VARIABLE):
        # A domain chosen by name overrides the number: moving is not ours to do.
        pause_for(d, pause, f"Out of host capacity in {stack.variables[AD_NAME_VARIABLE]} ({AD_NAME_VARIABLE} is set, so "
                            f"staying there); trying again in {pause:g} s (retry {attempt} of {retry_capacity})")
        return pause
    if reason == "capacity":
        current = stack.variables.get(AD_VARIABLE) or "1"
        nxt = next_domain(current)
        stack.variables = d.set_variables(stack.id, {AD_VARIABLE: nxt})
        pause_for(d, pause, f"Out of host capacity in availability domain {current}; "
                            f"trying domain {nxt} in {pause:g} s (retry {attempt} of {retry_capacity})")
        return d.retry.capacity_pause
    pause_for(d, pause, f"Throttled (429 TooManyRequests); trying again in {pause:g} s (retry {attempt} of {retry_capacity})")
    return min(pause * d.retry.throttle_factor, d.retry.max_pause)


def retryable(job: JobResult) -> str | None:
    """``"capacity"`` or ``"throttled"`` when a failed job is worth another try, else None."""
    text = "\n".join([job.failure_message or "", *job.lines[-50:]])
    if CAPACITY_PATTERN.search(text):
        return "capacity"
    if THROTTLE_PATTERN.search(text):
        return "throttled"
    return None


def pause_for(d: Any, seconds: float, note: str) -> None:
    """Say why, then wait; Ctrl-C here leaves no job running."""
    d.hooks.on_note(note)
    d.current_job = None
    try:
        d.sleep(seconds)
    except KeyboardInterrupt:
        raise Interrupted("interrupted while waiting to retry; no job is running (the last one failed)") from None
