"""Run real Terraform on a stack directory against the provider double, offline.

What ``flowstack validate``, ``flowstack plan`` and the emulator's jobs call::

    from generator.tfdouble.runner import TerraformRun, find_terraform, planned_changes

    tf = find_terraform()                   # raises TerraformNotFound with how to get one
    run = TerraformRun("build/flowspace", variables={"instance_ocpus": "2", ...})
    r = run.validate()                      # Result: ok, diagnostics, lines, events
    r = run.plan(out="tfplan")              # saved plan inside the stack directory
    plan = run.show("tfplan")               # `terraform show -json tfplan` as a dict
    changes = planned_changes(plan)         # [PlannedChange(address, type, actions, ...)]
    r = run.apply("tfplan", on_line=print)  # stream Terraform's messages as they come
    outs = run.output()                     # `terraform output -json` as a dict
    r = run.destroy()

Files: ``validate()``, ``plan(None)`` and ``plan("/abs/path")`` leave the stack directory
exactly as it was (no ``.terraform``: ``TF_DATA_DIR`` is private; no lock file: no
``init``); ``plan("tfplan")`` writes the plan there and ``apply``/``destroy`` keep the state
in ``<workdir>/terraform.tfstate``, so one working directory per stack is one state per
stack (what the emulator needs). The run's own files (CLI config, launchers, tfvars) live
in a private temp directory removed by ``close()`` / the ``with`` block.

Variables are strings, as Resource Manager passes them (``var_mode="tfvars"``: a
``*.tfvars.json`` of strings outside the stack directory, given with ``-var-file``;
``var_mode="env"``: ``TF_VAR_<name>``); Terraform converts them to the declared types and
evaluates the ``validation`` blocks.

Which terraform: ``FLOWSTACK_TERRAFORM`` (a path), else the newest
``.tools/terraform-1.5.*/terraform`` of the repository (``make terraform`` builds 1.5.7,
the line Resource Manager runs), else ``terraform`` on ``PATH``.

How the double is wired in: a CLI config file (``TF_CLI_CONFIG_FILE``) with
``dev_overrides`` for ``oracle/oci`` and ``hashicorp/random`` pointing at a directory of
launchers (``terraform-provider-oci`` = ``python -m generator.tfdouble oci``), so no
``terraform init`` and no registry is needed. Faults (see ``cloud``) go in with
``faults={"out_of_host_capacity": ["AD-1"]}``. The environment Terraform gets is built
from scratch (no proxies, no credentials, ``CHECKPOINT_DISABLE=1``).

Example::

    >>> with TerraformRun("/nonexistent", variables={}, terraform=Terraform("/bin/false", "1.5.7")) as run:
    ...     run.terraform.is_rm_line
    True
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typing_extensions import Self

from .binary import (
    REPO_ROOT,
    TERRAFORM_ENV,
    Terraform,
    TerraformNotFound,
    find_terraform,
    terraform_version,
)
from .cloud import FAULTS_ENV
from .schema import PROVIDERS

__all__ = ["TERRAFORM_ENV", "Diagnostic", "PlannedChange", "Result", "Terraform", "TerraformFailed",
           "TerraformNotFound", "TerraformRun", "find_terraform", "planned_changes", "terraform_version"]

_CHECKED_AT = re.compile(r"checked by the validation rule at (?P<file>[^\s:]+):(?P<line>\d+),")


@dataclass(frozen=True)
class Diagnostic:
    """One Terraform diagnostic: ``file``/``line`` are relative to the stack directory."""

    severity: str
    summary: str
    detail: str = ""
    file: str | None = None
    line: int | None = None
    address: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file else ""
        return f"{self.severity}: {where}{self.summary}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Result:
    """What one terraform command did."""

    args: list[str]
    returncode: int
    diagnostics: list[Diagnostic] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)   # Terraform's human messages, in order
    events: list[dict[str, Any]] = field(default_factory=list)  # its -json messages
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.errors

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def write_launchers(directory: Path) -> Path:
    """Write ``terraform-provider-oci``/``-random`` launchers of the double into ``directory``.

    Example::

        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     sorted(p.name for p in write_launchers(pathlib.Path(d)).iterdir())
        ['terraform-provider-oci', 'terraform-provider-random']
    """
    directory.mkdir(parents=True, exist_ok=True)
    for short in PROVIDERS:
        exe = directory / f"terraform-provider-{short}"
        exe.write_text(
            "#!/bin/sh\n# flowstack's offline provider double (generator/tfdouble), started by Terraform.\n"
            f"PYTHONPATH={shlex.quote(str(REPO_ROOT))}${{PYTHONPATH:+:$PYTHONPATH}} "
            f"exec {shlex.quote(sys.executable)} -m generator.tfdouble {short}\n",
            encoding="utf-8",
        )
        exe.chmod(0o755)
    return directory


def write_cli_config(path: Path, provider_dir: Path) -> Path:
    """A CLI config whose dev_overrides send both providers to the double (no registry).

    Example::

        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     '"oracle/oci" = ' in write_cli_config(pathlib.Path(d) / "cli.tfrc", pathlib.Path(d)).read_text()
        True
    """
    overrides = "\n".join(f"    {json.dumps(src.split('/', 1)[1])} = {json.dumps(str(provider_dir))}" for src in PROVIDERS.values())
    path.write_text(
        "# Written by generator.tfdouble.runner: Terraform uses the offline provider double.\n"
        f"disable_checkpoint = true\n\nprovider_installation {{\n  dev_overrides {{\n{overrides}\n  }}\n  direct {{}}\n}}\n",
        encoding="utf-8",
    )
    return path


def parse_diagnostic(d: Mapping[str, Any], address: str | None = None) -> Diagnostic:
    """One diagnostic of Terraform's JSON (validate's list or a ``diagnostic`` message).

    Example::

        >>> parse_diagnostic({"severity": "error", "summary": "Unsupported argument",
        ...                   "range": {"filename": "main.tf", "start": {"line": 7}}}).line
        7
    """
    rng = d.get("range") or {}
    return Diagnostic(
        severity=str(d.get("severity", "error")),
        summary=str(d.get("summary", "")),
        detail=str(d.get("detail", "")),
        file=rng.get("filename"),
        line=(rng.get("start") or {}).get("line"),
        address=d.get("address") or address,
    )


@dataclass(frozen=True)
class PlannedChange:
    """One resource in a saved plan: what ``flowstack plan`` lists, what a replace guard checks."""

    address: str
    type: str
    actions: tuple[str, ...]          # ("create",), ("no-op",), ("delete", "create"), ...
    replace_paths: tuple[tuple[Any, ...], ...] = ()

    @property
    def replaces(self) -> bool:
        return "delete" in self.actions and "create" in self.actions


def planned_changes(plan: Mapping[str, Any]) -> list[PlannedChange]:
    """The managed resources of ``show(plan_file)``'s JSON, in Terraform's order.

    Example::

        >>> planned_changes({"resource_changes": [{"address": "oci_core_vcn.main", "type": "oci_core_vcn",
        ...     "mode": "managed", "change": {"actions": ["create"]}}]})[0].actions
        ('create',)
    """
    return [
        PlannedChange(c["address"], c["type"], tuple(c["change"]["actions"]),
                      tuple(tuple(p) for p in c["change"].get("replace_paths") or ()))
        for c in plan.get("resource_changes", [])
        if c.get("mode", "managed") == "managed"
    ]


class TerraformRun:
    """Terraform commands on one stack directory, with the double and the given variables."""

    def __init__(self, workdir: str | Path, variables: Mapping[str, str] | None = None, *,
                 terraform: Terraform | None = None, faults: Mapping[str, Any] | None = None,
                 var_mode: str = "tfvars", timeout: float = 600) -> None:
        if var_mode not in ("tfvars", "env"):
            raise ValueError(f"var_mode {var_mode!r}: use 'tfvars' or 'env'")
        self.workdir = Path(workdir)
        self.variables = {k: str(v) for k, v in (variables or {}).items()}
        self.terraform = terraform or find_terraform()
        self.var_mode = var_mode
        self.timeout = timeout
        self._home = Path(tempfile.mkdtemp(prefix="flowstack-tf-"))
        self.cli_config = write_cli_config(self._home / "cli.tfrc", write_launchers(self._home / "providers"))
        self.faults_file: Path | None = None
        if faults is not None:
            self.faults_file = self._home / "faults.json"
            self.faults_file.write_text(json.dumps(dict(faults)), encoding="utf-8")
        self.var_file = self._home / "variables.tfvars.json"
        self.var_file.write_text(json.dumps(self.variables, indent=1), encoding="utf-8")

    def close(self) -> None:
        """Remove the run's private files (CLI config, launchers, tfvars); the stack dir stays."""
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def env(self) -> dict[str, str]:
        """Terraform's whole environment: nothing inherited but PATH and TMPDIR."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self._home),
               "TF_CLI_CONFIG_FILE": str(self.cli_config), "TF_DATA_DIR": str(self._home / "data"),
               "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
        if os.environ.get("TMPDIR"):
            env["TMPDIR"] = os.environ["TMPDIR"]
        if self.faults_file:
            env[FAULTS_ENV] = str(self.faults_file)
        if self.var_mode == "env":
            env |= {f"TF_VAR_{k}": v for k, v in self.variables.items()}
        return env

    def _var_args(self) -> list[str]:
        return [f"-var-file={self.var_file}"] if self.var_mode == "tfvars" else []

    def run(self, args: list[str], on_line: Callable[[str], None] | None = None) -> Result:
        """Run ``terraform <args>`` (args with ``-json`` give structured diagnostics).

        Lines reach ``on_line`` as Terraform prints them. stderr is drained by a thread (a
        full pipe would stall Terraform) and a timer kills a run that exceeds ``timeout``.
        """
        cmd = [self.terraform.path, *args]
        proc = subprocess.Popen(cmd, cwd=self.workdir, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        result = Result(args=cmd, returncode=-1)
        err: list[str] = []
        drain = threading.Thread(target=lambda: err.extend(proc.stderr or []), daemon=True)
        drain.start()
        timer = threading.Timer(self.timeout, proc.kill)
        timer.start()
        out: list[str] = []
        try:
            for raw in proc.stdout or []:
                out.append(raw)
                line = _consume(result, raw.rstrip("\n"), "-json" in args)
                if line is not None and on_line:
                    on_line(line)
            result.returncode = proc.wait()
        finally:
            timer.cancel()
        drain.join()
        result.stdout, result.stderr = "".join(out), "".join(err)
        result.diagnostics = [self._locate(d) for d in result.diagnostics]
        if result.returncode != 0 and not result.errors:
            text = result.stderr.strip() or result.stdout.strip()
            if result.returncode == -signal.SIGKILL:
                text = f"terraform {args[0]} did not finish within {self.timeout:g} s and was stopped\n{text}"
            result.diagnostics.append(Diagnostic("error", text.splitlines()[0] if text else "terraform failed", text))
        return result

    def _locate(self, d: Diagnostic) -> Diagnostic:
        """Point a bad variable value at the rule it broke, as Terraform 1.5 does.

        Terraform 1.11 names where the value came from (our private tfvars file, or none for
        ``TF_VAR_``) and says "This was checked by the validation rule at variables.tf:112,3-13"
        in the detail; the stack's own file and line are what a user can act on.
        """
        if d.file and not str(d.file).startswith(str(self._home)):
            return d
        m = _CHECKED_AT.search(d.detail)
        if not m:
            return d
        return Diagnostic(d.severity, d.summary, d.detail, m["file"], int(m["line"]), d.address)

    def validate(self) -> Result:
        r = self.run(["validate", "-json", "-no-color"])
        try:
            doc = json.loads(r.stdout)
        except json.JSONDecodeError:
            return r
        r.diagnostics = [parse_diagnostic(d) for d in doc.get("diagnostics", [])]
        r.lines = [str(d) for d in r.diagnostics] or ["Success! The configuration is valid."]
        return r

    def plan(self, out: str | None = "tfplan", *, destroy: bool = False, replace: Sequence[str] = (),
             on_line: Callable[[str], None] | None = None) -> Result:
        """``terraform plan``; ``replace`` names resources to plan as replaced (``-replace=ADDRESS``)."""
        args = ["plan", "-json", "-no-color", "-input=false", *self._var_args(), *(f"-replace={a}" for a in replace)]
        return self.run(args + (["-destroy"] if destroy else []) + ([f"-out={out}"] if out else []), on_line)

    def apply(self, plan_file: str | None = None, on_line: Callable[[str], None] | None = None) -> Result:
        """Apply a saved plan, or (without one) plan and apply with ``-auto-approve``."""
        args = ["apply", "-json", "-no-color", "-input=false"]
        return self.run(args + ([plan_file] if plan_file else ["-auto-approve", *self._var_args()]), on_line)

    def destroy(self, on_line: Callable[[str], None] | None = None) -> Result:
        return self.run(["destroy", "-json", "-no-color", "-input=false", "-auto-approve", *self._var_args()], on_line)

    def output(self) -> dict[str, Any]:
        """``terraform output -json``: {name: {"value", "type", "sensitive"}}."""
        return self._json(["output", "-json", "-no-color"])

    def show(self, plan_file: str | None = None) -> dict[str, Any]:
        """``terraform show -json`` of a saved plan, or of the state without one."""
        return self._json(["show", "-json", "-no-color", *([plan_file] if plan_file else [])])

    def _json(self, args: list[str]) -> dict[str, Any]:
        r = self.run(args)
        if r.returncode != 0:
            raise TerraformFailed(r)
        return dict(json.loads(r.stdout or "{}"))


class TerraformFailed(Exception):
    """A terraform command that must succeed did not; ``result`` has its diagnostics."""

    def __init__(self, result: Result) -> None:
        super().__init__("; ".join(str(d) for d in result.errors) or f"terraform exited {result.returncode}")
        self.result = result


def _consume(result: Result, raw: str, machine: bool) -> str | None:
    """Record one stdout line; return the human message for streaming (None for none)."""
    if not machine:
        result.lines.append(raw)
        return raw
    try:
        event = json.loads(raw)
    except json.JSONDecodeError:
        return None  # validate -json prints one multi-line document, parsed at the end
    if not isinstance(event, dict):
        return None
    result.events.append(event)
    if event.get("type") == "diagnostic":
        result.diagnostics.append(parse_diagnostic(event.get("diagnostic", {}), event.get("diagnostic", {}).get("address")))
    message = event.get("@message")
    if isinstance(message, str):
        result.lines.append(message)
        return message
    return None
