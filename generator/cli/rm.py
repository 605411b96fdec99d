"""Resource Manager commands: rm-apply, rm-dedupe, rm-plan, rm-destroy, rm-status, rm-logs, rm-outputs.

Each parses options, calls the deploy library and prints; `_RmConsole` is the terminal
view of a job (log lines on stdout, notes and the status line on stderr).

>>> rm_apply_command.name
'rm-apply'
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from generator.config.load import load_config
from generator.core.errors import ApprovalRequired, InstanceReplacement, JobConflict, JobUnfollowed

from ..deploy import results
from ..deploy import variables as rmvars
from .console import RmConsole as _RmConsole
from .console import dumps as _rm_dumps
from .console import outputs_json as _rm_outputs_json
from .console import print_outputs as _rm_print_outputs
from .console import print_plan as _rm_print_plan
from .lazy import lazy_module
from .options import at_option as _at_option
from .options import command_line as _rm_command_line
from .options import oci_options as _rm_common
from .options import timeout_option as _timeout_option
from .options import var_option as _var_option
from .stack import echo_warnings, warning_lines

if TYPE_CHECKING:
    from ..deploy import rm, session, workflow
else:
    rm = lazy_module("generator.deploy.rm")
    session = lazy_module("generator.deploy.session")
    workflow = lazy_module("generator.deploy.workflow")


def _rm_session(opts: dict, console: _RmConsole, **deployer_kwargs: Any) -> tuple[rm.Deployer, str]:
    """The deployer and compartment for this run's OCI options (the one OCI session: deploy/session.py)."""
    oci = session.open_session(session.OciOptions.from_opts(opts))
    deployer = oci.deployer(hooks=console.hooks(), follow_timeout=opts.get("follow_timeout", 7200.0), **deployer_kwargs)
    return deployer, oci.compartment


def _rm_command(f: Callable) -> Callable:
    """Give a job the user stopped following (Ctrl-C, lost connection) the command that resumes it."""

    @functools.wraps(f)
    def wrapper(**opts: Any) -> object:
        try:
            return f(**opts)
        except JobUnfollowed as exc:
            raise exc.with_command(_rm_command_line(opts, "rm-status", exc.job_id, "--follow")) from None
        except JobConflict as exc:
            raise exc.with_command(_rm_command_line(opts, "rm-status", "--follow")) from None

    return wrapper


def _rm_stack_name(config_path: str) -> str:
    return load_config(config_path).name


def _rm_plan_json(result: results.DeployResult, variables: dict[str, str], sensitive: frozenset[str], warnings: list[str]) -> dict:
    plan = dict(zip(("add", "change", "destroy"), result.plan, strict=True)) if result.plan else None
    # The --var values of this run; sensitive ones are null, never the secret.
    shown = {k: (None if rmvars.is_masked(k, sensitive) else v) for k, v in sorted(variables.items())}
    return {"stack_id": result.stack.id, "stack_created": result.stack.created,
            "plan_job_id": result.plan_job.id, "plan": plan, "variables": shown, "warnings": warnings,
            "instance_changes": [{"address": a, "action": action} for a, action in result.instance_changes]}


def _rm_confirm(opts: dict, console: _RmConsole) -> Callable[[results.JobResult, tuple[int, int, int] | None], bool]:
    """Show the plan and ask (or --auto-approve, or stop when not on a terminal)."""

    def confirm(plan_job: results.JobResult, summary: tuple[int, int, int] | None) -> bool:
        if not console.quiet:
            console.done()
            _rm_print_plan(summary, plan_job.id)
        if opts.get("auto_approve"):
            return True
        if not sys.stdin.isatty():
            raise ApprovalRequired("plan not applied", _rm_command_line(opts, "rm-apply", "--auto-approve"))
        return click.confirm("Apply this plan?", default=False, err=True)

    return confirm


def _rm_deploy(opts: dict, *, apply: bool) -> None:
    variables = opts.get("variables") or {}
    prepared = workflow.prepare(opts["config_path"], variables, opts.get("apply_at"))  # local mistakes before any request
    spec = prepared.spec
    console = _RmConsole(opts["as_json"])
    server: dict = {}

    def show_server(diff: Any, lines: list[str]) -> None:
        server["diff"] = diff
        if not console.quiet:
            for line in lines:
                click.echo(line)
    retry = results.RetrySettings(capacity_pause=opts.get("capacity_pause", 16.0))
    deployer, compartment = _rm_session(opts, console, retry=retry)
    if not console.quiet:  # the cost and free-tier warnings zip/validate print, before any upload (--json: in the data)
        echo_warnings(prepared.built.report)

    confirm = _rm_confirm(opts, console)
    try:
        result = workflow.deploy(prepared, deployer, compartment, apply=apply, confirm=confirm, on_server_diff=show_server,
                                 retry_capacity=opts.get("retry_capacity", 0), allow_replace=bool(opts.get("allow_replace")))
    except InstanceReplacement as exc:
        console.done()
        if not console.quiet:
            _rm_print_plan(exc.summary, exc.plan_job_id)
        again = ["--auto-approve"] if opts.get("auto_approve") else []
        if opts.get("retry_capacity"):
            again += ["--retry-capacity", str(opts["retry_capacity"])]
        raise exc.with_command(_rm_command_line(opts, "rm-apply", *again, "--allow-replace")) from None
    console.done()
    show = opts.get("show_sensitive", False)
    variables = {**variables, **prepared.variables}
    if not apply:
        if opts["as_json"]:
            console.emit({**_rm_plan_json(result, variables, spec.sensitive, warning_lines(prepared.built.report)), "server": server["diff"].as_json()})
        else:
            _rm_print_plan(result.plan, result.plan_job.id)
        return
    if result.apply_job is None:
        click.echo("Apply canceled; nothing was changed.", err=True)
        raise click.exceptions.Exit(1)
    if opts["as_json"]:
        data = _rm_plan_json(result, variables, spec.sensitive, warning_lines(prepared.built.report))
        data.update(server=server["diff"].as_json(), apply_job_id=result.apply_job.id, state=result.apply_job.state, attempts=result.attempts,
                    outputs=_rm_outputs_json(result.outputs, show))
        console.emit(data)
        return
    click.echo(f"Apply job {result.apply_job.id} succeeded.")
    _rm_print_outputs(result.outputs, show)


@click.command("rm-apply")
@_rm_common
@_timeout_option
@_var_option
@_at_option
@click.option("--auto-approve", is_flag=True, help="Apply the plan without asking.")
@click.option("--allow-replace", is_flag=True,
              help="Apply even if the plan replaces or destroys the instance (its disk is wiped; an ephemeral public IP changes, a reserved one stays).")
@click.option("--retry-capacity", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help='On "Out of host capacity", retry up to N times in the next availability domain.')
@click.option("--capacity-pause", type=click.FloatRange(min=0), default=16.0, show_default=True, metavar="SECONDS",
              help="Pause before each capacity retry (doubles after a 429).")
@click.option("--show-sensitive", is_flag=True, help="Print outputs marked sensitive.")
@_rm_command
def rm_apply_command(**opts: Any) -> None:
    """Deploy CONFIG: upload the zip, PLAN, then APPLY that plan and print the outputs.

    The stack is found by name and flowstack tag in the compartment (created when absent);
    a re-run uploads the new zip and keeps the variables set before.  Without
    --auto-approve it asks after the plan, and stops there when not on a terminal.
    A plan that replaces or destroys the server (a changed cloud-init or image does)
    is never applied without --allow-replace, even with --auto-approve.  First it prints
    what changes on the running server (file diff, secrets masked) and what restarts;
    --at HH:MM has the server apply it at that hour (server time zone).

    \b
    Example:
      flowstack rm-apply stacks/flowspace.yaml --compartment ocid1.compartment.oc1..aaaa --retry-capacity 6
    """
    _rm_deploy(opts, apply=True)


@click.command("rm-plan")
@_rm_common
@_timeout_option
@_var_option
@_at_option
@_rm_command
def rm_plan_command(**opts: Any) -> None:
    """Upload CONFIG's zip to its stack and run a PLAN job; print what would change.

    \b
    Example:
      flowstack rm-plan stacks/flowspace.yaml --var ssh_public_key="$(cat ~/.ssh/id_ed25519.pub)"
    """
    _rm_deploy(opts, apply=False)


@click.command("rm-destroy")
@_rm_common
@_timeout_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_rm_command
def rm_destroy_command(**opts: Any) -> None:
    """Run a DESTROY job on CONFIG's stack, deleting every resource it created.

    The stack itself is kept, so a later rm-apply recreates everything.

    \b
    Example:
      flowstack rm-destroy stacks/flowspace.yaml --yes
    """
    name = _rm_stack_name(opts["config_path"])
    console = _RmConsole(opts["as_json"])
    deployer, compartment = _rm_session(opts, console)
    if not opts["yes"]:
        if not sys.stdin.isatty():
            raise ApprovalRequired("nothing destroyed", _rm_command_line(opts, "rm-destroy", "--yes"))
        click.confirm(f"Destroy every resource of stack {name}?", default=False, abort=True, err=True)
    job = deployer.destroy(name, compartment)
    console.done()
    if opts["as_json"]:
        console.emit({"job_id": job.id, "operation": job.operation, "state": job.state})
    else:
        click.echo(f"Destroy job {job.id} succeeded.")


def _rm_job_json(job: results.JobResult) -> dict:
    return {"id": job.id, "operation": job.operation, "state": job.state, "stack_id": job.stack_id,
            "time_created": job.time_created, "time_finished": job.time_finished,
            "failure": {"code": job.failure_code, "message": job.failure_message} if job.failure_code or job.failure_message else None}


@click.command("rm-status")
@_rm_common
@_timeout_option
@click.argument("job_id", metavar="[JOB]", required=False)
@click.option("--follow", is_flag=True, help="Stream the job's logs until it ends; exit non-zero if it fails.")
@_rm_command
def rm_status_command(**opts: Any) -> None:
    """Show a job of CONFIG's stack (default: the newest); --follow streams it to the end.

    \b
    Example:
      flowstack rm-status stacks/flowspace.yaml ocid1.ormjob.oc1..aaaa --follow
    """
    name = _rm_stack_name(opts["config_path"])
    console = _RmConsole(opts["as_json"])
    deployer, compartment = _rm_session(opts, console)
    job = deployer.resolve_job(name, compartment, opts["job_id"])
    if opts["follow"]:
        if not job.terminal:
            console.note(f"Following {job.operation} job {job.id}")
        job = deployer.follow(job.id)
        console.done()
    if opts["as_json"]:
        console.emit(_rm_job_json(job))
    else:
        click.echo(f"{job.operation} job {job.id}: {job.state}")
        if job.failure_code or job.failure_message:
            click.echo(f"  {job.failure_code or 'UNKNOWN'}: {job.failure_message or ''}")
    if opts["follow"] and job.state == "FAILED":
        raise job.failure()
    if opts["follow"] and job.succeeded and job.operation == "APPLY" and not opts["as_json"]:
        _rm_print_outputs(deployer.outputs(job.id), False)


@click.command("rm-logs")
@_rm_common
@click.argument("job_id", metavar="[JOB]", required=False)
def rm_logs_command(**opts: Any) -> None:
    """Print the log of a job of CONFIG's stack (default: the newest job).

    \b
    Example:
      flowstack rm-logs stacks/flowspace.yaml ocid1.ormjob.oc1..aaaa
    """
    name = _rm_stack_name(opts["config_path"])
    deployer, compartment = _rm_session(opts, _RmConsole(True))
    job = deployer.resolve_job(name, compartment, opts["job_id"])
    lines = deployer.logs(job.id)
    if opts["as_json"]:
        data = [{"timestamp": line.timestamp, "level": line.level, "message": line.message} for line in lines]
        click.echo(_rm_dumps(data))
    else:
        for line in lines:
            click.echo(line.message)


@click.command("rm-outputs")
@_rm_common
@click.option("--show-sensitive", is_flag=True, help="Print outputs marked sensitive.")
def rm_outputs_command(**opts: Any) -> None:
    """Print the outputs of the newest succeeded APPLY job of CONFIG's stack.

    Sensitive outputs are masked (null in --json) unless --show-sensitive.

    \b
    Example:
      flowstack rm-outputs stacks/flowspace.yaml --json
    """
    name = _rm_stack_name(opts["config_path"])
    deployer, compartment = _rm_session(opts, _RmConsole(True))
    job, outputs = deployer.latest_outputs(name, compartment)
    if opts["as_json"]:
        click.echo(_rm_dumps(_rm_outputs_json(outputs, opts["show_sensitive"])))
    else:
        click.echo(f"Outputs of APPLY job {job.id}:")
        _rm_print_outputs(outputs, opts["show_sensitive"])


@click.command("rm-dedupe")
@_rm_common
def rm_dedupe_command(**opts: Any) -> None:
    """Repair a compartment holding several stacks for CONFIG (e.g. from two runs started at once).

    Keeps the stack that has jobs (or the oldest) and deletes the duplicates that never ran one;
    refuses, naming them, when more than one has jobs.

    \b
    Example:
      flowstack rm-dedupe stacks/flowspace.yaml
    """
    name = _rm_stack_name(opts["config_path"])
    deployer, compartment = _rm_session(opts, _RmConsole(True))
    kept, deleted = deployer.dedupe(name, compartment)
    if opts["as_json"]:
        click.echo(_rm_dumps({"kept": kept.id, "deleted": deleted}))
    elif deleted:
        click.echo(f"Kept stack {name} ({kept.id}); deleted the empty duplicate(s) {', '.join(deleted)}")
    else:
        click.echo(f"Stack {name} ({kept.id}) has no duplicates")


COMMANDS = (rm_apply_command, rm_dedupe_command, rm_plan_command, rm_destroy_command, rm_status_command, rm_logs_command, rm_outputs_command)
