"""Terraform's own verdict: ``terraform validate`` and ``terraform plan`` through the provider double.

The stack's files go to a temp directory; variables without a default get the sample values
(`samples`), overridden by ``--var``; Terraform runs offline against `generator.tfdouble`
(no ``init``, no registry). Every Terraform diagnostic becomes a problem line naming the
stack's file and line with Terraform's own message. The model checks (`checks.terraform`)
stay as a fast pre-check; this is the authority. SKIP only when there is no terraform.

>>> plan_inputs({"variables.tf": b'variable "ssh_source_cidr" {\\n  type = string\\n}\\n'}, {})
{'ssh_source_cidr': '198.51.100.7/32'}
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from generator.core.errors import FlowstackError
from generator.core.samples import sample_variable

from ..tfdouble.runner import (
    Diagnostic,
    PlannedChange,
    Result,
    Terraform,
    TerraformNotFound,
    TerraformRun,
    find_terraform,
    planned_changes,
)
from .report import FAIL, PASS, SKIP, CheckResult
from .stack import Stack


def plan_inputs(files: Mapping[str, bytes], given: Mapping[str, str], *, strict: bool = True) -> dict[str, str]:
    """A string for every variable without a default (given, else the sample), plus the given ones.

    Raises `FlowstackError` for a required variable flowstack has no sample for (``strict``;
    otherwise it is left out, and Terraform's own validate speaks first).
    """
    values: dict[str, str] = {}
    for name, body in Stack(dict(files)).variables().items():
        if "default" in body or name in given:
            continue
        sample = sample_variable(name)
        if sample is None and not strict:
            continue
        if sample is None:
            raise FlowstackError(f"variable {name} has no default and no sample value: pass --var {name}=VALUE")
        values[name] = sample
    return values | dict(given)


def _problem(d: Diagnostic) -> str:
    where = f"{d.file}:{d.line}: " if d.file else ""
    detail = " ".join(d.detail.split())
    return f"{where}{d.summary}" + (f": {detail}" if detail else "")


def _write(files: Mapping[str, bytes], directory: Path) -> None:
    for name, data in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)  # bundle/... files
        (directory / name).write_bytes(data)


def _plan_summary(r: Result) -> str:
    return next((line for line in reversed(r.lines) if line.startswith(("Plan:", "No changes"))), "plan made")


def terraform_checks(files: Mapping[str, bytes], variables: Mapping[str, str] | None = None) -> list[CheckResult]:
    """``terraform validate`` and ``terraform plan`` (counted when valid), each a `CheckResult`.

    Example::

        terraform_checks(render_stack(load_config("stacks/flowspace.yaml")))[1].detail
        # 'Terraform 1.5.7: Plan: 7 to add, 0 to change, 0 to destroy.'
    """
    try:
        tf = find_terraform()
    except TerraformNotFound as exc:
        return [CheckResult("terraform", SKIP, str(exc))]
    inputs = plan_inputs(files, variables or {}, strict=False)
    with tempfile.TemporaryDirectory(prefix="flowstack-validate-") as d:
        _write(files, Path(d))
        # validate and plan at once (each its own run: private homes; plan(None) writes nothing
        # in the stack dir): about 1 s less than one after the other. The plan counts only if
        # the configuration is valid.
        with ThreadPoolExecutor(2) as pool:
            planned = pool.submit(_run, d, inputs, tf, lambda run: run.plan(None))
            v = _run(d, inputs, tf, lambda run: run.validate())
            p = planned.result()
    label = f"Terraform {tf.version}" + ("" if tf.is_rm_line else " (Resource Manager runs 1.5.x)")
    if not v.ok:
        return [CheckResult("terraform validate", FAIL, f"{label}: {len(v.errors)} error(s)", [_problem(e) for e in v.errors])]
    results = [CheckResult("terraform validate", PASS, f"{label}: the configuration is valid")]
    try:
        plan_inputs(files, variables or {})
    except FlowstackError as exc:
        return [*results, CheckResult("terraform plan", FAIL, str(exc), [str(exc)])]
    if not p.ok:
        results.append(CheckResult("terraform plan", FAIL, f"{label}: {len(p.errors)} error(s)", [_problem(e) for e in p.errors]))
    else:
        results.append(CheckResult("terraform plan", PASS, f"{label}: {_plan_summary(p)}"))
    return results


def _run(workdir: str, inputs: dict[str, str], tf: Terraform, command: Callable[[TerraformRun], Result]) -> Result:
    with TerraformRun(workdir, inputs, terraform=tf) as run:
        return command(run)


@dataclass(frozen=True)
class OfflinePlan:
    """What Resource Manager's PLAN would do, planned by real Terraform against the double."""

    terraform_version: str
    changes: list[PlannedChange]
    summary: str

    @property
    def count(self) -> int:
        """Resources created, updated or replaced (no-ops and reads not counted)."""
        return sum(1 for c in self.changes if c.actions not in (("no-op",), ("read",)))


def offline_plan(files: Mapping[str, bytes], variables: Mapping[str, str] | None = None) -> OfflinePlan:
    """Plan the stack offline; raise `FlowstackError` with Terraform's messages when it fails.

    Example::

        offline_plan(render_stack(load_config("stacks/flowspace.yaml"))).count   # 7
    """
    try:
        tf = find_terraform()
    except TerraformNotFound as exc:
        raise FlowstackError(f"flowstack plan needs Terraform: {exc}") from None
    inputs = plan_inputs(files, variables or {})
    with tempfile.TemporaryDirectory(prefix="flowstack-plan-") as d, TerraformRun(d, inputs, terraform=tf) as run:
        _write(files, Path(d))
        plan_file = str(Path(run.cli_config).parent / "offline.tfplan")
        r = run.plan(plan_file)
        if not r.ok:
            raise FlowstackError("terraform plan failed: " + "; ".join(_problem(e) for e in r.errors))
        changes = planned_changes(run.show(plan_file))
    return OfflinePlan(tf.version, changes, _plan_summary(r))
