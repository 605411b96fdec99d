"""Failures the emulator can be told to produce, so clients can be tested against them.

A faults spec is a JSON/YAML mapping; every key is optional:

``job_seconds: 2``
    How long every new job runs (overrides ``--job-seconds``).
``capacity_fail_ads: [1]``
    APPLY jobs that launch an ``oci_core_instance`` into one of these availability domains
    fail the way Resource Manager reports an A1 shortage: FAILED,
    ``TERRAFORM_EXECUTION_ERROR``, ``Error: 500-InternalError, Out of host capacity.``
``capacity_fail_count: 2``
    Stop failing for capacity after this many failures (default: never stop), so "AD 1
    works on the third try" can be tested.
``ad_variable: availability_domain_number``
    The stack variable that names the AD: a number (``"2"``) or an AD name ending in
    ``-AD-<n>``.  Without it the emulator looks for ``availability_domain_name``,
    ``availability_domain_number``, ``availability_domain``, ``ad_number`` and ``ad``
    (stack value first, then the variable's default in the zip), then assumes AD 1.
``status_429: {path_prefix: /20180917/jobs, method: POST, count: 3}``
``status_500: {path_prefix: /20180917/stacks, count: 1}``
    Answer the next ``count`` (default 1) signed API requests whose path starts with
    ``path_prefix`` (default: any) and, if given, whose method is ``method`` with 429
    ``TooManyRequests`` / 500 ``InternalServerError``.  A list of such rules is accepted.
``fail_next: {operation: PLAN, code: TERRAFORM_EXECUTION_ERROR, message: "...", count: 1}``
    The next ``count`` new jobs of ``operation`` (PLAN, APPLY, DESTROY, or ``*``) fail
    near their end with that failureDetails.
``slow_next: {operation: APPLY, seconds: 30, count: 1}``
    The next ``count`` new jobs of ``operation`` run for ``seconds`` instead.
``running_job: {operation: APPLY, seconds: 10, stack_id: ocid1.ormstack...}``
    A job "someone else started in the console": with ``stack_id`` it starts on that
    stack at once; without, it starts on the stack of the next ``POST /jobs``, which then
    gets 409 because of it.  The job is real (it shows in ``GET /jobs``) and finishes.
``replace_instance_next: {count: 1}``
    The next ``count`` PLAN jobs on a stack whose ``oci_core_instance`` resources already
    exist plan to replace them, as Terraform does when cloud-init (``user_data``) or the
    image changed: ``# oci_core_instance.server must be replaced``, ``-/+ resource ...``
    and ``Plan: 1 to add, 0 to change, 1 to destroy.``  An APPLY of such a plan destroys
    and recreates them.  PLAN jobs of stacks without an instance leave the count alone.

Counts go down as faults fire, and the spec (with what is left of it) is saved in the
emulator's state file, so a restart neither repeats nor forgets a fault.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import FaultsError

OPERATIONS = ("PLAN", "APPLY", "DESTROY")
# flowstack stacks name the AD in availability_domain_name (wins when set) or
# availability_domain_number; the others are common spellings in hand-written stacks.
DEFAULT_AD_VARIABLES = ("availability_domain_name", "availability_domain_number", "availability_domain", "ad_number", "ad")

_KEYS = {
    "job_seconds",
    "capacity_fail_ads",
    "capacity_fail_count",
    "ad_variable",
    "status_429",
    "status_500",
    "fail_next",
    "slow_next",
    "running_job",
    "replace_instance_next",
}


class FaultSpec:
    """A validated faults spec; thread-safe, and consumed as faults fire."""

    def __init__(self, spec: Mapping[str, Any] | None = None, *, source: str = "faults") -> None:
        self._lock = threading.Lock()
        self._spec = validate(spec or {}, source)

    @classmethod
    def from_file(cls, path: str | Path) -> FaultSpec:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FaultsError(str(path), f"cannot read faults file ({exc.strerror})") from exc
        try:
            data = yaml.safe_load(text)  # YAML is a superset of JSON: one loader for both
        except yaml.YAMLError as exc:
            raise FaultsError(str(path), f"not valid YAML or JSON ({exc})") from exc
        return cls(data or {}, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._spec)

    def replace(self, spec: Mapping[str, Any] | None, *, source: str = "faults") -> None:
        new = validate(spec or {}, source)
        with self._lock:
            self._spec = new

    # --- queries used by the server and the job simulation ---

    def job_seconds(self, default: float) -> float:
        with self._lock:
            return float(self._spec.get("job_seconds", default))

    def ad_variables(self) -> tuple[str, ...]:
        with self._lock:
            name = self._spec.get("ad_variable")
        return (name,) if name else DEFAULT_AD_VARIABLES

    def take_capacity_failure(self, ad: int) -> bool:
        """True when an instance launch into ``ad`` must fail (and count the failure)."""
        with self._lock:
            ads = self._spec.get("capacity_fail_ads") or []
            if ad not in ads:
                return False
            left = self._spec.get("capacity_fail_count")
            if left is None:
                return True
            if left <= 0:
                return False
            self._spec["capacity_fail_count"] = left - 1
            return True

    def take_http_fault(self, method: str, path: str) -> int | None:
        """The status (429 or 500) to answer this request with, or None."""
        with self._lock:
            for key, status in (("status_429", 429), ("status_500", 500)):
                rules = self._spec.get(key) or []
                for rule in rules:
                    if rule["method"] and rule["method"] != method.upper():
                        continue
                    if not path.startswith(rule["path_prefix"]):
                        continue
                    rule["count"] -= 1
                    self._spec[key] = [r for r in rules if r["count"] > 0] or None
                    if self._spec[key] is None:
                        del self._spec[key]
                    return status
        return None

    def take_fail_next(self, operation: str) -> dict[str, str] | None:
        return self._take_one_shot("fail_next", operation, ("code", "message"))

    def take_slow_next(self, operation: str) -> float | None:
        taken = self._take_one_shot("slow_next", operation, ("seconds",))
        return None if taken is None else float(taken["seconds"])

    def take_running_job(self, stack_id: str | None) -> dict[str, Any] | None:
        """The pending "someone else's job" for this stack (any stack if it names none)."""
        with self._lock:
            rule = self._spec.get("running_job")
            if not rule:
                return None
            if rule.get("stack_id") and stack_id is not None and rule["stack_id"] != stack_id:
                return None
            if stack_id is None and not rule.get("stack_id"):
                return None
            del self._spec["running_job"]
            return dict(rule)

    def take_replace_instance_next(self) -> bool:
        """True when this PLAN must replace the stack's existing instances (and count it)."""
        with self._lock:
            rule = self._spec.get("replace_instance_next")
            if not rule:
                return False
            rule["count"] -= 1
            if rule["count"] <= 0:
                del self._spec["replace_instance_next"]
            return True

    def _take_one_shot(self, key: str, operation: str, fields: tuple[str, ...]) -> dict[str, Any] | None:
        with self._lock:
            rule = self._spec.get(key)
            if not rule or rule["operation"] not in ("*", operation):
                return None
            rule["count"] -= 1
            if rule["count"] <= 0:
                del self._spec[key]
            return {f: rule[f] for f in fields}


def validate(spec: Mapping[str, Any], source: str = "faults") -> dict[str, Any]:
    """Check a faults spec and return it normalised (rules as lists, defaults filled)."""
    if not isinstance(spec, Mapping):
        raise FaultsError(source, "a faults spec must be a mapping", value=spec)
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise FaultsError(source, "unknown fault", field=unknown[0], expected=", ".join(sorted(_KEYS)))
    out: dict[str, Any] = {}
    if "job_seconds" in spec:
        out["job_seconds"] = _number(spec["job_seconds"], source, "job_seconds")
    out.update(_capacity(spec, source))
    for key in ("status_429", "status_500"):
        if spec.get(key) is not None:
            normalised = _http_rules(spec[key], source, key)
            if normalised:
                out[key] = normalised
    for key, check in _JOB_RULES.items():
        if spec.get(key) is not None:
            out[key] = check(spec[key], source)
    return out


def _capacity(spec: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``capacity_fail_ads``, ``capacity_fail_count`` and ``ad_variable``, as given."""
    out: dict[str, Any] = {}
    if spec.get("capacity_fail_ads") is not None:
        ads = spec["capacity_fail_ads"]
        if isinstance(ads, int):
            ads = [ads]
        if not isinstance(ads, list) or not all(isinstance(a, int) and not isinstance(a, bool) and 1 <= a <= 3 for a in ads):
            raise FaultsError(source, "must be a list of AD numbers (1, 2, 3)", field="capacity_fail_ads", value=ads)
        out["capacity_fail_ads"] = ads
    if spec.get("capacity_fail_count") is not None:
        out["capacity_fail_count"] = _count(spec["capacity_fail_count"], source, "capacity_fail_count", allow_zero=True)
    if spec.get("ad_variable") is not None:
        if not isinstance(spec["ad_variable"], str) or not spec["ad_variable"]:
            raise FaultsError(source, "must be a variable name", field="ad_variable", value=spec["ad_variable"])
        out["ad_variable"] = spec["ad_variable"]
    return out


def _http_rules(value: Any, source: str, key: str) -> list[dict[str, Any]]:
    """``status_429`` / ``status_500``: one rule or a list of them."""
    rules = value if isinstance(value, list) else [value]
    normalised = []
    for i, rule in enumerate(rules):
        field = f"{key}[{i}]" if isinstance(value, list) else key
        if not isinstance(rule, Mapping):
            raise FaultsError(source, "must be a mapping", field=field, value=rule)
        extra = set(rule) - {"path_prefix", "method", "count"}
        if extra:
            raise FaultsError(source, "unknown key", field=f"{field}.{sorted(extra)[0]}", expected="path_prefix, method, count")
        method = rule.get("method")
        if method is not None and (not isinstance(method, str) or method.upper() not in {"GET", "POST", "PUT", "DELETE"}):
            raise FaultsError(source, "unknown HTTP method", field=f"{field}.method", value=method)
        normalised.append(
            {
                "path_prefix": str(rule.get("path_prefix") or ""),
                "method": method.upper() if method else None,
                "count": _count(rule.get("count", 1), source, f"{field}.count"),
            }
        )
    return normalised


def _fail_next(value: Any, source: str) -> dict[str, Any]:
    rule = _one_shot(value, source, "fail_next", {"operation", "code", "message", "count"})
    rule["code"] = str(rule.get("code") or "TERRAFORM_EXECUTION_ERROR")
    rule["message"] = str(rule.get("message") or "Error: the emulator was told to fail this job")
    return rule


def _slow_next(value: Any, source: str) -> dict[str, Any]:
    rule = _one_shot(value, source, "slow_next", {"operation", "seconds", "count"})
    if "seconds" not in rule:
        raise FaultsError(source, "needs seconds", field="slow_next.seconds")
    rule["seconds"] = _number(rule["seconds"], source, "slow_next.seconds")
    return rule


def _running_job(rule: Any, source: str) -> dict[str, Any]:
    _check_keys(rule, source, "running_job", {"operation", "seconds", "stack_id"}, "operation, seconds, stack_id")
    operation = str(rule.get("operation") or "APPLY").upper()
    if operation not in OPERATIONS:
        raise FaultsError(source, "unknown operation", field="running_job.operation", value=operation, expected="PLAN, APPLY or DESTROY")
    return {
        "operation": operation,
        "seconds": _number(rule.get("seconds", 10), source, "running_job.seconds"),
        "stack_id": rule.get("stack_id") or None,
    }


def _replace_instance_next(rule: Any, source: str) -> dict[str, Any]:
    _check_keys(rule, source, "replace_instance_next", {"count"}, "count")
    return {"count": _count(rule.get("count", 1), source, "replace_instance_next.count")}


def _check_keys(rule: Any, source: str, field: str, allowed: set[str], expected: str) -> None:
    if not isinstance(rule, Mapping):
        raise FaultsError(source, "must be a mapping", field=field, value=rule)
    extra = set(rule) - allowed
    if extra:
        raise FaultsError(source, "unknown key", field=f"{field}.{sorted(extra)[0]}", expected=expected)


# The faults that change new jobs, checked in this order.
_JOB_RULES: dict[str, Callable[[Any, str], dict[str, Any]]] = {
    "fail_next": _fail_next,
    "slow_next": _slow_next,
    "running_job": _running_job,
    "replace_instance_next": _replace_instance_next,
}


def _one_shot(rule: Any, source: str, field: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(rule, Mapping):
        raise FaultsError(source, "must be a mapping", field=field, value=rule)
    extra = set(rule) - allowed
    if extra:
        raise FaultsError(source, "unknown key", field=f"{field}.{sorted(extra)[0]}", expected=", ".join(sorted(allowed)))
    out = dict(rule)
    operation = str(out.get("operation") or "*").upper()
    if operation not in (*OPERATIONS, "*"):
        raise FaultsError(source, "unknown operation", field=f"{field}.operation", value=operation, expected="PLAN, APPLY, DESTROY or *")
    out["operation"] = operation
    out["count"] = _count(out.get("count", 1), source, f"{field}.count")
    return out


# Bounds: a fault must end (no Infinity or NaN seconds, none over a day) and counts stay sane.
MAX_SECONDS = 86400.0
MAX_COUNT = 1_000_000


def _number(value: Any, source: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_SECONDS:
        # NaN fails both comparisons; Infinity the upper one.
        raise FaultsError(source, f"must be a number of seconds from 0 to {MAX_SECONDS:g}", field=field, value=value)
    return float(value)


def _count(value: Any, source: str, field: str, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_COUNT:
        raise FaultsError(source, f"must be a whole number from {low} to {MAX_COUNT}", field=field, value=value)
    return value
