"""Checkov, when installed (Terraform itself runs in `checks.terraform_run`).

Checkov is found through ``FLOWSTACK_CHECKOV`` (the Makefile points it at its own
virtualenv: Checkov's hcl2 would shadow python-hcl2) or on PATH.

>>> external_checkov({}).check
'checkov'
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .report import FAIL, PASS, SKIP, CheckResult


def _write_tmp(files: dict[str, bytes]) -> tempfile.TemporaryDirectory[str]:
    tmp = tempfile.TemporaryDirectory(prefix="flowstack-validate-")
    for name, data in files.items():
        (Path(tmp.name) / name).parent.mkdir(parents=True, exist_ok=True)  # bundle/... files
        (Path(tmp.name) / name).write_bytes(data)
    return tmp


def checkov_executable() -> str | None:
    """Checkov lives in its own virtualenv (its hcl2 shadows python-hcl2): FLOWSTACK_CHECKOV, or PATH."""
    candidates = [os.environ.get("FLOWSTACK_CHECKOV"), shutil.which("checkov")]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def external_checkov(files: dict[str, bytes]) -> CheckResult:
    exe = checkov_executable()
    if not exe:
        return CheckResult("checkov", SKIP, "not installed (put checkov on PATH, e.g. `pipx install checkov`, or set FLOWSTACK_CHECKOV to its executable)")
    with _write_tmp({k: v for k, v in files.items() if k.endswith(".tf")}) as d:
        out = subprocess.run([exe, "-d", d, "--framework", "terraform", "-o", "json", "--quiet", "--compact", "--skip-download"],
                             capture_output=True, text=True, timeout=300)
    try:
        data = json.loads(out.stdout or "{}")
    except json.JSONDecodeError:
        return CheckResult("checkov", FAIL, "checkov printed no JSON", [(out.stderr or out.stdout).strip()[:500]])
    reports = data if isinstance(data, list) else [data]
    failed = [c for r in reports for c in (r.get("results", {}) or {}).get("failed_checks", [])]
    summary = [r.get("summary", {}) for r in reports]
    passed = sum(s.get("passed", 0) for s in summary)
    if failed:
        return CheckResult("checkov", FAIL, f"{len(failed)} failed check(s)", [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed])
    return CheckResult("checkov", PASS, f"0 failed, {passed} passed")


