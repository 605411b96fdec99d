"""Print how long real Terraform takes on the reference stack through the provider double.

    .venv/bin/python tools/bench_tfdouble.py [--runs 5]

Figures (median of the runs, each a new process, as `flowstack validate` will be):
``validate + plan`` (what `flowstack validate` will run), ``plan -out`` and ``apply`` of
that plan (what an emulator PLAN and APPLY job will run). Prints; asserts nothing.
`make bench-tfdouble` runs it; the issue's goal for validate + plan is at most 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# One run in a fresh interpreter: import the runner, find terraform, run the commands.
_CHILD = """
import json, sys, time
from generator.tfdouble.runner import TerraformRun
stack, mode, values = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
t = time.perf_counter()
with TerraformRun(stack, values) as run:
    if mode == "validate+plan":
        ok = run.validate().ok and run.plan(None).ok
    elif mode == "plan":
        ok = run.plan("tfplan").ok
    else:
        ok = run.apply("tfplan").ok
print(json.dumps({"ok": ok, "seconds": time.perf_counter() - t, "terraform": run.terraform.version}))
"""

VALUES = {
    "tenancy_ocid": "ocid1.tenancy.oc1..aaaaaaaabench",
    "compartment_ocid": "ocid1.compartment.oc1..aaaaaaaabench",
    "ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJlbmNobWFyayBrZXkgb25seSAhISEhISEhISE= bench",
    "ssh_source_cidr": "198.51.100.7/32",
}


def _once(stack: Path, mode: str) -> tuple[float, float, str]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _CHILD, str(stack), mode, json.dumps(VALUES)], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    if not answer["ok"]:
        raise SystemExit(f"{mode} failed")
    return wall, answer["seconds"], answer["terraform"]


def _validate(stack: Path, checkov: bool) -> tuple[float, float, str]:
    """`flowstack validate DIR` as the user runs it: every check, Terraform's validate + plan included
    (and Checkov, when ``checkov``: it runs beside Terraform)."""
    env = dict(os.environ) if checkov else {**os.environ, "FLOWSTACK_CHECKOV": "/nonexistent", "PATH": "/usr/bin:/bin"}
    t = time.perf_counter()
    out = subprocess.run([str(Path(sys.executable).parent / "flowstack"), "validate", str(stack), "--json"],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - t
    checks = {c["check"]: c["status"] for c in json.loads(out.stdout)["checks"]}
    if checks.get("terraform plan") != "pass":
        raise SystemExit(f"flowstack validate: terraform plan did not pass: {checks}")
    return wall, wall, ""


def _job(stack: Path, operation: str, tmp: Path) -> tuple[float, float, str]:
    """What one emulator job runs: `python -m generator.tfdouble job OP DIR` (real Terraform)."""
    var_file = tmp / "job-vars.json"
    var_file.write_text(json.dumps(VALUES), encoding="utf-8")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "generator.tfdouble", "job", operation, str(stack), "--vars", str(var_file),
                          "--plan-file", "job.tfplan"], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if not json.loads(out.stdout.strip().splitlines()[-1])["result"]["ok"]:
        raise SystemExit(f"job {operation} failed")
    return wall, wall, ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-tfdouble-") as tmp:
        base = Path(tmp) / "stack"
        subprocess.run([str(Path(sys.executable).parent / "flowstack"), "generate", str(ROOT / "stacks" / "flowspace.yaml"),
                        "-o", str(base)], check=True, capture_output=True)
        rows = []
        walls = [_once(base, "validate+plan") for _ in range(args.runs)]
        rows.append(("validate + plan (new process)", walls))
        plans, applies = [], []
        for i in range(args.runs):
            stack = Path(shutil.copytree(base, Path(tmp) / f"apply-{i}"))
            plans.append(_once(stack, "plan"))
            applies.append(_once(stack, "apply"))
        rows += [("emulator PLAN job: plan -out", plans), ("emulator APPLY job: apply the plan", applies)]
        rows.append(("flowstack validate, Terraform (new process)", [_validate(base, False) for _ in range(args.runs)]))
        rows.append(("flowstack validate, Terraform + Checkov", [_validate(base, True) for _ in range(args.runs)]))
        job_plans, job_applies = [], []
        for i in range(args.runs):
            stack = Path(shutil.copytree(base, Path(tmp) / f"job-{i}"))
            job_plans.append(_job(stack, "PLAN", Path(tmp)))
            job_applies.append(_job(stack, "APPLY", Path(tmp)))
        rows += [("emulator job program: PLAN", job_plans), ("emulator job program: APPLY", job_applies)]
        version = walls[0][2]
        print(f"terraform {version} + flowstack provider double, reference stack, median of {args.runs}:")
        for name, samples in rows:
            inner = statistics.median(s[1] for s in samples)
            print(f"  {name:<44} {statistics.median(s[0] for s in samples):6.2f} s wall"
                  + (f"  ({inner:.2f} s in terraform)" if samples[0][2] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
