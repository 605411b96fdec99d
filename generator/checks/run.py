"""`flowstack validate`: prove a stack is right before it leaves the machine.

Works on the in-memory ``{path: bytes}`` of a render, or on a stack directory someone
edited by hand. Each check returns a `CheckResult`; a `Report` is their list. Nothing
here prints or exits: the CLI formats the report.

>>> validate_path("stacks/flowspace.yaml", external=False).ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from ..config import load_config
from ..config_schema import StackConfig
from ..errors import PackageError
from ..render import render_stack
from . import fit, notes, ports, secrets, terraform
from .external import external_checkov, external_terraform
from .report import SKIP, CheckResult, Report
from .stack import Stack

# A stack file is a few kB; anything far larger (or a device, a FIFO) is not one.
MAX_STACK_FILE_BYTES = 16 * 1024 * 1024


def read_stack_dir(path: Path) -> dict[str, bytes]:
    """The stack files of a directory (its top level, as Resource Manager reads a zip)."""
    out = {}
    try:
        for p in sorted(path.iterdir()):
            if p.name.startswith(".") or not p.is_file():
                continue
            if p.stat().st_size > MAX_STACK_FILE_BYTES:
                raise PackageError(f"cannot read {p}: {p.stat().st_size:,} bytes is not a stack file (at most {MAX_STACK_FILE_BYTES:,})")
            out[p.name] = p.read_bytes()
    except OSError as exc:
        raise PackageError(f"cannot read the stack directory {path}: {exc.strerror or exc}") from None
    return out


def validate_path(
    path: str | Path, *, external: bool = True, allow_paid: bool = False, on: dt.date | None = None
) -> Report:
    """Validate a config file (rendered first) or an already generated stack directory."""
    p = Path(path)
    if p.is_dir():
        return validate_files(read_stack_dir(p), None, external=external, allow_paid=allow_paid, on=on)
    config = load_config(p)
    return validate_files(render_stack(config, on), config, external=external, allow_paid=allow_paid, on=on)


def validate_files(
    files: dict[str, bytes],
    config: StackConfig | None = None,
    *,
    external: bool = False,
    allow_paid: bool = False,
    on: dt.date | None = None,
) -> Report:
    """Run every check on a stack's files. ``external`` adds Terraform and Checkov when installed."""
    stack = Stack(files)
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("syntax", lambda: terraform.check_syntax(stack)),
        ("references", lambda: terraform.check_references(stack)),
        ("provider schema", lambda: terraform.check_provider_schema(stack)),
        ("port policy", lambda: ports.check_ports(stack, config)),
        ("livekit settings", lambda: ports.check_livekit_keys(stack)),
        ("always free", lambda: fit.check_always_free(stack, config, allow_paid, on)),
        ("resource manager fit", lambda: fit.check_rm_fit(stack)),
        ("secrets", lambda: secrets.check_secrets(stack, config)),
        ("deploy notes", lambda: notes.check_notes(stack)),
    ]
    results = []
    for name, fn in checks:
        if name != "syntax" and not stack.parsed_ok:
            results.append(CheckResult(name, SKIP, "skipped: fix the syntax errors first"))
            continue
        results.append(fn())
    if external:
        results += [external_terraform(files), external_checkov(files)]
    return Report(results)
