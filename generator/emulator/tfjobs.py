"""Jobs that run real Terraform: the emulator starts a *job program* per job, as RM starts Terraform.

The emulator stays a leaf (it imports nothing of ``generator``): what it runs is a command
line it is given (``flowstack emulator --terraform-job CMD``, or ``FLOWSTACK_EMULATOR_TF_JOB``),
normally ``python -m generator.tfdouble job`` (real Terraform against the provider double).
The program gets ``OP WORKDIR --vars FILE [--plan-file F] [--capacity-fail-ad AD-n]
[--replace-instances]`` and prints JSON lines: ``{"log", "level"}`` as Terraform prints them,
then ``{"result"}`` (see ``generator/tfdouble/job.py``).

One working directory per stack, beside the durable state file
(``<state>.terraform/<stack id>/``): the stack's zip is unpacked there for each job and
``terraform.tfstate`` and the saved plans (``<plan job id>.tfplan``) stay, so state survives
an emulator restart. A job still running when the emulator stops is not resumed.

Example::

    TerraformJobs(["python", "-m", "generator.tfdouble", "job"], Path("/tmp/rm.json.terraform")).workdir("ocid1.ormstack.x")
"""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

JOB_ENV = "FLOWSTACK_EMULATOR_TF_JOB"
RUNNING_MS = 10**12  # a job's duration until its program has finished
KEEP = ("terraform.tfstate", "terraform.tfstate.backup")


def attach(state_path: Path, jobs: dict[str, dict[str, Any]], now_ms: int, command: str | None = None) -> TerraformJobs | None:
    """The Terraform job runner named by ``command`` or ``FLOWSTACK_EMULATOR_TF_JOB`` (None: simulate).

    A Terraform job the saved state shows running had its process end with the previous
    emulator: it fails now (TERRAFORM_EXECUTION_ERROR, saying so) instead of running forever.
    """
    for job in jobs.values():
        if job.get("_terraform") and not job.get("_done") and job.get("_durationMs") == RUNNING_MS:
            job.update(_durationMs=max(now_ms - job["_startMs"], job.get("_acceptedMs", 0) + 1), _endState="FAILED",
                       _failure={"code": "TERRAFORM_EXECUTION_ERROR", "message": "the emulator stopped while Terraform ran this job"})
    cmd = command or os.environ.get(JOB_ENV)
    return TerraformJobs(shlex.split(cmd), Path(f"{state_path}.terraform")) if cmd else None


class TerraformJobs:
    """Start job programs and feed their lines into the emulator's job records."""

    def __init__(self, command: list[str], root: Path) -> None:
        self.command = command
        self.root = root

    def workdir(self, stack_id: str) -> Path:
        return self.root / stack_id

    def _unpack(self, stack_id: str, zip_bytes: bytes, working_directory: str | None) -> Path:
        top = self.workdir(stack_id)
        top.mkdir(parents=True, exist_ok=True)
        for p in top.iterdir():  # the new zip replaces the files; state and saved plans stay
            if p.is_file() and p.name not in KEEP and not p.name.endswith(".tfplan"):
                p.unlink()
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
            for info in z.infolist():
                name = Path(info.filename)
                if info.is_dir() or name.is_absolute() or ".." in name.parts:
                    continue
                target = top / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(info))
        return top / working_directory if working_directory else top

    def start(self, state: Any, job: dict[str, Any], zip_bytes: bytes, variables: dict[str, str], *,
              capacity_ad: int | None, replace: bool) -> None:
        """Turn ``job`` (already recorded) into a real Terraform run; its lines arrive as printed."""
        operation, stack_id = job["operation"], job["stackId"]
        workdir = self._unpack(stack_id, zip_bytes, job.get("workingDirectory"))
        var_file = self.workdir(stack_id) / f".{job['id']}.vars.json"
        var_file.write_text(json.dumps(variables), encoding="utf-8")
        args = [*self.command, operation, str(workdir), "--vars", str(var_file)]
        plan_job = job.get("resolvedPlanJobId")
        if operation == "PLAN":
            args += ["--plan-file", f"{job['id']}.tfplan"]
        elif operation == "APPLY" and plan_job:
            args += ["--plan-file", f"{plan_job}.tfplan"]
        if capacity_ad:
            args += ["--capacity-fail-ad", f"AD-{capacity_ad}"]
        if replace:
            args.append("--replace-instances")
        job.update(_script=[], _durationMs=RUNNING_MS, _outputs=[], _failure=None, _terraform=True)
        threading.Thread(target=self._follow, args=(state, job, args, var_file), daemon=True).start()

    def _follow(self, state: Any, job: dict[str, Any], args: list[str], var_file: Path) -> None:
        start = time.monotonic()
        since = (state.now_ms() - job["_startMs"])
        elapsed: Callable[[], int] = lambda: since + int((time.monotonic() - start) * 1000)  # noqa: E731
        result: dict[str, Any] = {"ok": False, "error": "the job program printed no result"}
        try:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        except OSError as exc:
            result["error"] = f"cannot start the Terraform job program {args[0]}: {exc}"
        else:
            for raw in proc.stdout or []:
                with state.lock:
                    if job.get("_cancel"):
                        proc.terminate()
                        break
                try:
                    msg = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                if "result" in msg:
                    result = msg["result"]
                elif "log" in msg:
                    with state.lock:
                        job["_script"].append([elapsed(), msg.get("level", "INFO"), str(msg["log"]), None])
            err = (proc.stderr.read() if proc.stderr else "").strip()
            proc.wait()
            if not result.get("ok") and err and result["error"] == "the job program printed no result":
                result["error"] = err.splitlines()[-1]
        var_file.unlink(missing_ok=True)
        self._finish(state, job, result, elapsed())

    @staticmethod
    def _finish(state: Any, job: dict[str, Any], result: dict[str, Any], end_ms: int) -> None:
        with state.lock:
            if job.get("_cancel"):
                return
            job["_durationMs"] = max(end_ms, job.get("_acceptedMs", 0) + 1)
            job["_outputs"] = result.get("outputs") or []
            job["_replace"] = result.get("replaces") or []
            if result.get("ok"):
                job["_endState"] = "SUCCEEDED"
            else:
                job["_endState"] = "FAILED"
                job["_failure"] = {"code": "TERRAFORM_EXECUTION_ERROR", "message": result.get("error") or "terraform failed"}
            stack = state.data["stacks"].get(job["stackId"])
            if stack is not None:
                stack["_applied"] = list(result.get("resources") or [])
            state.advance()
            state.save()
