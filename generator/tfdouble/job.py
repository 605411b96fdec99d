"""One Resource Manager job as a program: ``python -m generator.tfdouble job OP WORKDIR ...``.

The emulator (a leaf of the product: it imports nothing of ``generator``) starts this as a
subprocess, as Resource Manager starts Terraform. It runs real Terraform on ``WORKDIR``
(the stack's files and its ``terraform.tfstate``) against the provider double and prints
one JSON object a line on stdout: ``{"log": <Terraform's message>, "level": ...}`` as
Terraform prints them, then one ``{"result": {...}}`` with ``ok``, ``error`` (Terraform's
error text), ``outputs`` (RM's JobOutputSummary items, ``isSensitive`` from Terraform),
``resources`` (the addresses in the state) and ``replaces`` (instances a PLAN replaces).

    PLAN     terraform plan -out=PLAN_FILE
    APPLY    terraform apply PLAN_FILE (FROM_PLAN_JOB_ID), or apply -auto-approve
    DESTROY  terraform destroy -auto-approve

Example::

    python -m generator.tfdouble job PLAN /tmp/st/ocid1.ormstack... --vars vars.json --plan-file p.tfplan
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .runner import Result, TerraformFailed, TerraformNotFound, TerraformRun, planned_changes

OPERATIONS = ("PLAN", "APPLY", "DESTROY")


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _instances_in_state(workdir: Path) -> list[str]:
    """The ids of the instances in the stack's state (a ``replace_instance_next`` fault names them)."""
    state = workdir / "terraform.tfstate"
    if not state.exists():
        return []
    doc = json.loads(state.read_text(encoding="utf-8"))
    return [i["attributes"]["id"] for r in doc.get("resources", []) if r.get("type") == "oci_core_instance"
            for i in r.get("instances", []) if i.get("attributes", {}).get("id")]


def _outputs(run: TerraformRun) -> list[dict[str, Any]]:
    items = []
    for name, o in sorted(run.output().items()):
        value = o.get("value")
        kind = o.get("type")
        items.append({"outputName": name, "outputType": kind if isinstance(kind, str) else json.dumps(kind),
                      "outputValue": value if isinstance(value, str) else json.dumps(value),
                      "isSensitive": bool(o.get("sensitive")), "description": None})
    return items


def _resources(run: TerraformRun) -> list[str]:
    state = run.show()
    return [r["address"] for r in (state.get("values") or {}).get("root_module", {}).get("resources", [])
            if r.get("mode") == "managed"]


def run_job(operation: str, workdir: Path, variables: dict[str, str], *, plan_file: str | None,
            faults: dict[str, Any], emit: Callable[[dict[str, Any]], None] = _emit) -> dict[str, Any]:
    """Run one job and return its result (the log lines go to ``emit`` as Terraform prints them)."""
    def on_line(line: str) -> None:
        emit({"log": line, "level": "INFO"})

    # TF_VAR_ strings, as RM passes them: Terraform converts them and evaluates the validation
    # blocks; unlike a tfvars file, RM's extra ones (current_user_ocid) raise no warning.
    with TerraformRun(workdir, variables, faults=faults, var_mode="env") as run:
        emit({"log": f"Terraform v{run.terraform.version} with the offline provider double (flowstack emulator)", "level": "INFO"})
        replaces: list[str] = []
        if operation == "PLAN":
            r: Result = run.plan(plan_file, on_line=on_line)
            if r.ok and plan_file:
                replaces = [c.address for c in planned_changes(run.show(plan_file)) if c.replaces and c.type == "oci_core_instance"]
        elif operation == "APPLY":
            r = run.apply(plan_file, on_line=on_line)
        else:
            r = run.destroy(on_line=on_line)
        for d in r.errors:
            emit({"log": str(d), "level": "ERROR"})
        result: dict[str, Any] = {"ok": r.ok, "error": "\n".join(str(d) for d in r.errors), "replaces": replaces}
        result["outputs"] = _outputs(run) if r.ok and operation == "APPLY" else []
        result["resources"] = _resources(run) if (workdir / "terraform.tfstate").exists() else []
    return result


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m generator.tfdouble job")
    p.add_argument("operation", choices=OPERATIONS)
    p.add_argument("workdir", type=Path)
    p.add_argument("--vars", required=True, type=Path, help="JSON object of strings (as RM passes them)")
    p.add_argument("--plan-file", default=None, help="PLAN writes it; APPLY applies it")
    p.add_argument("--capacity-fail-ad", action="append", default=[], help="AD suffix (AD-1) where instance creates fail")
    p.add_argument("--replace-instances", action="store_true", help="the double reports the state's instances as needing replacement")
    a = p.parse_args(argv)
    variables = {k: str(v) for k, v in json.loads(a.vars.read_text(encoding="utf-8")).items()}
    faults = {"out_of_host_capacity": a.capacity_fail_ad,
              "replace_instances": _instances_in_state(a.workdir) if a.replace_instances else []}
    try:
        result = run_job(a.operation, a.workdir, variables, plan_file=a.plan_file, faults=faults)
    except (TerraformNotFound, TerraformFailed) as exc:
        result = {"ok": False, "error": str(exc), "outputs": [], "resources": [], "replaces": []}
    _emit({"result": result})
    return 0
