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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from generator.config.load import load_config
from generator.config.schema import StackConfig
from generator.core.contract import BUNDLE_DIR
from generator.core.errors import PackageError
from generator.core.files import MARKER
from generator.derive.derived import Derived, derive
from generator.emit.render import emit_stack, render_stack

from . import fit, notes, ports, secrets, terraform
from .external import external_checkov
from .report import SKIP, CheckResult, Report
from .stack import Stack

if TYPE_CHECKING:
    from .terraform_run import OfflinePlan

# A stack file is a few kB; anything far larger (or a device, a FIFO) is not one.
MAX_STACK_FILE_BYTES = 16 * 1024 * 1024


# Not stack files: flowstack's output marker and what Terraform or git leave in a directory
# someone ran them in. Every other file counts, dotfiles included (the zip carries
# bundle/sample-app/.dockerignore, which templatefile() reads).
_NOT_STACK = frozenset({MARKER, ".terraform", ".terraform.lock.hcl", ".git"})


def read_stack_dir(path: Path) -> dict[str, bytes]:
    """The stack files of a directory: its top level and the bundle/ folder of server files, dotfiles included."""
    out = {}
    try:
        bundle = path / BUNDLE_DIR
        inner = sorted(p for p in bundle.rglob("*") if p.is_file()) if bundle.is_dir() else []
        for p in [*sorted(path.iterdir()), *inner]:
            if any(part in _NOT_STACK for part in p.relative_to(path).parts) or not p.is_file():
                continue
            if p.stat().st_size > MAX_STACK_FILE_BYTES:
                raise PackageError(f"cannot read {p}: {p.stat().st_size:,} bytes is not a stack file (at most {MAX_STACK_FILE_BYTES:,})")
            out[p.relative_to(path).as_posix()] = p.read_bytes()
    except OSError as exc:
        raise PackageError(f"cannot read the stack directory {path}: {exc.strerror or exc}") from None
    return out


def validate_path(
    path: str | Path, *, external: bool = True, allow_paid: bool = False, on: dt.date | None = None,
    variables: dict[str, str] | None = None,
) -> Report:
    """Validate a config file (rendered first) or an already generated stack directory.

    ``variables`` (``--var``) reach Terraform's plan; the others get sample values.
    """
    p = Path(path)
    if p.is_dir():
        return validate_files(read_stack_dir(p), None, external=external, allow_paid=allow_paid, on=on, variables=variables)
    d = derive(load_config(p), on)
    return validate_files(emit_stack(d), d, external=external, allow_paid=allow_paid, on=on, variables=variables)


def validate_files(
    files: dict[str, bytes],
    config: StackConfig | Derived | None = None,
    *,
    external: bool = False,
    allow_paid: bool = False,
    on: dt.date | None = None,
    variables: dict[str, str] | None = None,
    zipped: bytes | None = None,
) -> Report:
    """Run every check on a stack's files. ``external`` adds Terraform (validate and plan through
    the provider double: Terraform's verdict is the authority) and Checkov when installed.
    ``zipped``: the stack's zip when the caller made it already (the fit check measures it).

    ``config``: the stack's `Derived` when the caller has one (a build: the checks read its facts
    instead of deriving them again), its config, or None for a stack directory (everything is
    read back from the files). The files are read back in every case, so what is checked is what
    was emitted."""
    d = config if isinstance(config, Derived) else None
    cfg = d.config if d is not None else config
    assert not isinstance(cfg, Derived)
    on = on if on is not None or d is None else d.on  # the date the build read the dated limits for
    stack = Stack(files)
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("syntax", lambda: terraform.check_syntax(stack)),
        ("references", lambda: terraform.check_references(stack)),
        ("provider schema", lambda: terraform.check_provider_schema(stack)),
        ("port policy", lambda: ports.check_ports(stack, cfg, d)),
        ("livekit settings", lambda: ports.check_livekit_keys(stack)),
        ("always free", lambda: fit.check_always_free(stack, cfg, allow_paid, on)),
        ("resource manager fit", lambda: fit.check_rm_fit(stack, zipped)),
        ("secrets", lambda: secrets.check_secrets(stack, cfg)),
        ("deploy notes", lambda: notes.check_notes(stack)),
    ]
    results = []
    if external:  # Terraform through the provider double (gRPC, protobuf): imported only when run
        from .terraform_run import terraform_checks
    with ThreadPoolExecutor(2) as pool:
        # Terraform and Checkov (seconds each, in other processes) run while the model checks run here.
        terraform_results = pool.submit(terraform_checks, files, variables) if external else None
        checkov_result = pool.submit(external_checkov, files) if external else None
        for name, fn in checks:
            if name != "syntax" and not stack.parsed_ok:
                results.append(CheckResult(name, SKIP, "skipped: fix the syntax errors first"))
                continue
            results.append(fn())
        if terraform_results is not None and checkov_result is not None:
            results += [*terraform_results.result(), checkov_result.result()]
    return Report(results)


def plan_path(path: str | Path, variables: dict[str, str] | None = None, *, on: dt.date | None = None) -> OfflinePlan:
    """`flowstack plan`: the offline Terraform plan of a config (rendered first) or a stack directory.

    Example::

        [c.address for c in plan_path("stacks/flowspace.yaml").changes][:1]   # ['oci_core_instance.server']
    """
    from .terraform_run import offline_plan

    p = Path(path)
    files = read_stack_dir(p) if p.is_dir() else render_stack(load_config(p), on)
    return offline_plan(files, variables)
