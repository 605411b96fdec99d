"""The `flowstack` command line.

This module only parses arguments and calls the library: every command is a thin
wrapper, and `main` is the single place where a `FlowstackError` becomes
``Error: <message>`` and an exit code.  The library never imports click.
"""

from __future__ import annotations

import click

from . import __version__
from .errors import FlowstackError


class UserError(click.ClickException):
    """A library error on its way to the terminal as ``Error: <message>``."""

    def __init__(self, exc: FlowstackError) -> None:
        super().__init__(str(exc))
        self.exit_code = exc.exit_code


class FlowstackGroup(click.Group):
    """The one place where library errors become ``Error: ...`` and an exit code."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except FlowstackError as exc:
            raise UserError(exc) from exc


@click.group(cls=FlowstackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowstack")
def cli() -> None:
    """flowstack: one YAML config to a LiveKit + Socket.IO + Caddy stack on OCI Always Free."""


# --- stack commands (config, generate, zip, validate, ports, preview, init, env) ---

import json as _json  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

from . import package as _package  # noqa: E402
from .config import load_config as _load_config  # noqa: E402
from .errors import ValidationFailed as _ValidationFailed  # noqa: E402


def _parse_vars(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in value:
        name, sep, val = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", ctx=ctx, param=param)
        out[name] = val
    return out


def _echo_warnings(report: object) -> None:
    """A check that passed with a warning (e.g. a reported, unverified limit) is still news to the user."""
    for result in getattr(report, "results", []):
        if result.status == "warn":
            for problem in result.problems or [result.detail]:
                click.echo(f"Warning: {result.check}: {problem}", err=True)


@cli.command("init")
@click.argument("path", required=False, default="stacks/mystack.yaml", type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="Stack name (default: the file name without .yaml).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init_command(path: str, name: str | None, force: bool) -> None:
    """Write a commented starter config to PATH (default stacks/mystack.yaml).

    Example: flowstack init stacks/myspace.yaml
    """
    from .errors import PackageError
    from .starter import starter_config

    target = _Path(path)
    if target.exists() and not force:
        raise PackageError(f"{target} already exists; pass --force to overwrite it")
    stem = name or target.stem
    text = starter_config(stem)
    from .config import parse_config

    parse_config(text, str(target))  # the starter must itself be a valid config
    _package.write_file(text.encode("utf-8"), target)
    click.echo(f"Wrote {target}: edit domains and socket, then run `flowstack zip {target}`")


@cli.command("generate")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(file_okay=False), help="Directory to write (default build/<name>/).")
@click.option("--dry-run", is_flag=True, help="Render and check, list the files, write nothing.")
@click.option("--allow-paid", is_flag=True, help="Allow a size over the Always Free limits.")
def generate_command(config_path: str, output: str | None, dry_run: bool, allow_paid: bool) -> None:
    """Render CONFIG into a Terraform stack directory (main.tf, variables.tf, ...).

    Example: flowstack generate stacks/flowspace.yaml -o build/flowspace
    """
    built = _package.build(config_path, allow_paid=allow_paid)
    _echo_warnings(built.report)
    dest = _Path(output) if output else _package.default_build_dir(built.config)
    if dry_run:
        for name, data in built.files.items():
            click.echo(f"{name}\t{len(data)} bytes")
        return
    _package.write_tree(built.files, dest)
    click.echo(f"Wrote {len(built.files)} files to {dest}")


@cli.command("zip")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Zip to write (default dist/<name>-stack.zip).")
@click.option("--allow-paid", is_flag=True, help="Allow a size over the Always Free limits.")
def zip_command(config_path: str, output: str | None, allow_paid: bool) -> None:
    """Render, validate and zip CONFIG for Resource Manager (byte-reproducible).

    Example: flowstack zip stacks/flowspace.yaml -o dist/flowspace-stack.zip
    """
    import hashlib

    built = _package.build(config_path, allow_paid=allow_paid)
    _echo_warnings(built.report)
    dest = _Path(output) if output else _package.default_zip_path(built.config)
    _package.write_file(built.zip_bytes, dest)
    digest = hashlib.sha256(built.zip_bytes).hexdigest()[:16]
    click.echo(f"Wrote {dest} ({len(built.zip_bytes):,} bytes, sha256 {digest}...): upload it in OCI Resource Manager")


@cli.command("validate")
@click.argument("path", type=click.Path(exists=False))
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON only.")
@click.option("--no-external", is_flag=True, help="Skip Terraform and Checkov even when installed.")
@click.option("--allow-paid", is_flag=True, help="Allow a size over the Always Free limits.")
def validate_command(path: str, as_json: bool, no_external: bool, allow_paid: bool) -> None:
    """Check a config file or a generated stack directory; exit non-zero on any failure.

    Example: flowstack validate build/flowspace --json
    """
    from .validate import format_table, validate_path

    report = validate_path(path, external=not no_external, allow_paid=allow_paid)
    if as_json:
        click.echo(_json.dumps(report.to_dict(), indent=2))
        if not report.ok:
            raise click.exceptions.Exit(_ValidationFailed.exit_code)
        return
    click.echo(format_table(report))
    if not report.ok:
        raise _ValidationFailed(report, report.summary())


@cli.command("ports")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the policy as JSON.")
def ports_command(config_path: str, as_json: bool) -> None:
    """Print the port policy of CONFIG: port, protocol, source, who needs it, why.

    Example: flowstack ports stacks/flowspace.yaml
    """
    from .ports import policy

    rules = policy(_load_config(config_path))
    rows = [{"port": r.ports, "protocol": r.protocol, "source": r.source.replace("var.", ""), "who": r.who, "why": r.why} for r in rules]
    if as_json:
        click.echo(_json.dumps(rows, indent=2))
        return
    widths = {k: max(len(k), *(len(str(row[k])) for row in rows)) for k in ("port", "protocol", "source", "who")}
    head = "  ".join(k.ljust(widths[k]) for k in widths) + "  why"
    click.echo(head)
    for row in rows:
        click.echo("  ".join(str(row[k]).ljust(widths[k]) for k in widths) + f"  {row['why']}")


@cli.command("preview")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--sample", is_flag=True, help="Fill deploy-time values with samples.")
@click.option("--var", "values", multiple=True, callback=_parse_vars, metavar="NAME=VALUE", help="A deploy-time value (repeatable).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Directory to write the preview into.")
def preview_command(config_path: str, sample: bool, values: dict[str, str], output: str) -> None:
    """Write what the server will receive: cloud-init after templatefile(), and every file it writes.

    Example: flowstack preview stacks/flowspace.yaml --sample -o build/preview
    """
    from .preview import preview_files, preview_modes

    files = preview_files(_load_config(config_path), values, sample=sample)
    _package.write_tree(files, _Path(output), preview_modes(files))
    click.echo(f"Wrote {len(files)} files to {output} (cloud-init.yaml and files/...)")


@cli.command("env")
@click.argument("outputs_path", metavar="OUTPUTS_JSON", type=click.Path(dir_okay=False))
@click.option("--show-sensitive", is_flag=True, help="Print the LiveKit API secret too.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the full block (secret included) to this file, mode 0600.")
def env_command(outputs_path: str, show_sensitive: bool, output: str | None) -> None:
    """Print the front end's .env.production block from stack outputs JSON.

    Example: terraform output -json > out.json && flowstack env out.json
    """
    from .envfile import env_block, read_outputs

    outputs = read_outputs(outputs_path)
    if output:
        text = env_block(outputs, show_sensitive=True)
        _package.write_file(text.encode("utf-8"), _Path(output), mode=0o600)
        click.echo(f"Wrote {output} (mode 0600, includes the LiveKit API secret)")
        return
    click.echo(env_block(outputs, show_sensitive=show_sensitive), nl=False)



# --- cost commands ---

# Imported here rather than at the top so this section stays self-contained while other
# sections of this file are edited by others.
import json  # noqa: E402

from .config import load_config  # noqa: E402
from .cost import Scenario, estimate, format_table  # noqa: E402


@cli.command("cost")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
# Defaults come from Scenario so the CLI and the library share one baseline (the
# user's guide's unit: 1 space x 50 users, 9 h x 22 days, 1.5 Mbps).
@click.option("--spaces", type=int, default=Scenario.spaces, show_default=True, help="Spaces (rooms) in use at the same time.")
@click.option("--users-per-space", type=int, default=Scenario.users_per_space, show_default=True, help="Users in each space.")
@click.option("--hours-per-day", type=float, default=Scenario.hours_per_day, show_default=True, help="Hours each user is connected per day.")
@click.option("--days-per-month", type=int, default=Scenario.days_per_month, show_default=True, help="Days of use per month.")
@click.option("--mbps-per-user", type=float, default=Scenario.mbps_per_user, show_default=True, help="Media the server sends each user (Mbps).")
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Use the Always Free limits in force on this date (YYYY-MM-DD; default today).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def cost_command(
    config_path: str,
    spaces: int,
    users_per_space: int,
    hours_per_day: float,
    days_per_month: int,
    mbps_per_user: float,
    on: object,
    as_json: bool,
) -> None:
    """Monthly traffic and cost of CONFIG's stack, and the same workload on LiveKit Cloud."""
    config = load_config(config_path)
    scenario = Scenario(
        spaces=spaces,
        users_per_space=users_per_space,
        hours_per_day=hours_per_day,
        days_per_month=days_per_month,
        mbps_per_user=mbps_per_user,
    )
    report = estimate(
        config.region,
        config.instance.ocpus,
        config.instance.memory_gbs,
        scenario,
        on=on.date() if on is not None else None,  # type: ignore[attr-defined]
    )
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else format_table(report))


# --- Resource Manager commands (rm-*) ---

# Imported here so this section stays self-contained while others edit the file.
import functools  # noqa: E402
import json as _rm_json  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable as _Callable  # noqa: E402

from . import oci_defaults as _oci_defaults  # noqa: E402


def _lazy_module(name: str):  # type: ignore[no-untyped-def]
    """Import ``name`` on first attribute access: the oci SDK costs ~0.3 s, and only rm-* need it."""
    import importlib.util

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


rm = _lazy_module("generator.resource_manager")
from .errors import ApprovalRequired, InstanceReplacement, JobConflict, JobUnfollowed  # noqa: E402


def _rm_common(f: _Callable) -> _Callable:
    """CONFIG plus the options every rm-* command shares."""
    params = [
        click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False)),
        click.option("--profile", default=_oci_defaults.DEFAULT_PROFILE, show_default=True, envvar="OCI_CLI_PROFILE",
                     help="Profile in the OCI config file."),
        click.option("--config-file", "oci_config_file", default=_oci_defaults.DEFAULT_CONFIG_FILE, show_default=True,
                     envvar="OCI_CLI_CONFIG_FILE", help="OCI config file."),
        click.option("--auth", type=click.Choice(_oci_defaults.AUTH_METHODS), default="api_key", show_default=True,
                     help="How to sign requests."),
        click.option("--compartment", metavar="OCID", envvar="FLOWSTACK_COMPARTMENT",
                     help="Compartment of the stack (default: compartment_ocid in the profile)."),
        click.option("--endpoint", metavar="URL", help="Resource Manager endpoint (default: the region's)."),
        click.option("--json", "as_json", is_flag=True, help="Print only data, as JSON."),
    ]
    for param in reversed(params):
        f = param(f)
    return f


def _rm_vars(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    try:
        return rm.parse_variables(value)
    except FlowstackError as exc:
        raise click.BadParameter(str(exc).removeprefix("--var: ")) from None


_var_option = click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", callback=_rm_vars,
                           help="Set a stack variable (repeatable); earlier values on the stack are kept.")


def _rm_dumps(data: object) -> str:
    return _rm_json.dumps(data, indent=2, default=lambda o: o.isoformat() if hasattr(o, "isoformat") else str(o))


class _RmConsole:
    """Prints job progress: log lines on stdout, notes and the TTY status line on stderr."""

    def __init__(self, as_json: bool) -> None:
        self.quiet = as_json
        self.tty = not as_json and sys.stderr.isatty()
        self.status_shown = False

    def hooks(self) -> rm.Hooks:
        if self.quiet:
            return rm.Hooks()
        return rm.Hooks(on_log=self.log, on_status=self.status, on_note=self.note, on_job_started=self.started)

    def _clear(self) -> None:
        if self.status_shown:
            click.echo("\r\033[K", nl=False, err=True)
            self.status_shown = False

    def log(self, line: rm.LogLine) -> None:
        self._clear()
        click.echo(line.message)

    def status(self, status: rm.JobStatus) -> None:
        if self.tty:
            minutes, seconds = divmod(int(status.elapsed), 60)
            click.echo(f"\r\033[K{status.operation} {status.state} {minutes:02d}:{seconds:02d}", nl=False, err=True)
            self.status_shown = True

    def note(self, text: str) -> None:
        self._clear()
        click.echo(text, err=True)

    def started(self, job_id: str, operation: str) -> None:
        self.note(f"{operation} job {job_id} started")

    def done(self) -> None:
        self._clear()

    def emit(self, data: object) -> None:
        click.echo(_rm_dumps(data))


def _rm_command_line(opts: dict, name: str, *args: str) -> str:
    """``flowstack NAME CONFIG ARGS`` with this run's non-default OCI options, ready to paste."""
    words = ["flowstack", name, str(opts["config_path"]), *args]
    for flag, key, default in (("--profile", "profile", rm.DEFAULT_PROFILE),
                               ("--config-file", "oci_config_file", rm.DEFAULT_CONFIG_FILE),
                               ("--auth", "auth", "api_key"),
                               ("--compartment", "compartment", None),
                               ("--endpoint", "endpoint", None)):
        value = opts.get(key)
        if value and value != default:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


def _rm_session(opts: dict, console: _RmConsole, **deployer_kwargs: object) -> tuple[rm.Deployer, str]:
    """The deployer and compartment for this run's OCI options."""
    config, signer = rm.load_oci_config(opts["oci_config_file"], opts["profile"], opts["auth"])
    compartment = rm.resolve_compartment(config, opts["compartment"])
    deployer = rm.Deployer(config, signer, endpoint=opts["endpoint"], hooks=console.hooks(), **deployer_kwargs)
    return deployer, compartment


def _rm_command(f: _Callable) -> _Callable:
    """Give a job the user stopped following (Ctrl-C, lost connection) the command that resumes it."""

    @functools.wraps(f)
    def wrapper(**opts: object) -> object:
        try:
            return f(**opts)
        except JobUnfollowed as exc:
            raise exc.with_command(_rm_command_line(opts, "rm-status", exc.job_id, "--follow")) from None
        except JobConflict as exc:
            raise exc.with_command(_rm_command_line(opts, "rm-status", "--follow")) from None

    return wrapper


def _rm_stack_name(config_path: str) -> str:
    from .config import load_config as _load

    return _load(config_path).name


def _rm_plan_json(result: rm.DeployResult, variables: dict[str, str], sensitive: frozenset[str]) -> dict:
    plan = dict(zip(("add", "change", "destroy"), result.plan)) if result.plan else None
    # The --var values of this run; sensitive ones are null, never the secret.
    shown = {k: (None if rm.is_masked(k, sensitive) else v) for k, v in sorted(variables.items())}
    return {"stack_id": result.stack.id, "stack_created": result.stack.created,
            "plan_job_id": result.plan_job.id, "plan": plan, "variables": shown,
            "instance_changes": [{"address": a, "action": action} for a, action in result.instance_changes]}


def _rm_print_plan(summary: tuple[int, int, int] | None, job_id: str) -> None:
    if summary is None:
        click.echo(f"Plan job {job_id} succeeded (its log has no plan summary).")
    else:
        add, change, destroy = summary
        click.echo(f"Plan: {add} to add, {change} to change, {destroy} to destroy (job {job_id}).")


def _rm_print_outputs(outputs: list[rm.Output], show_sensitive: bool) -> None:
    if not outputs:
        return
    click.echo("Outputs:")
    width = max(len(o.name) for o in outputs)
    for o in outputs:
        click.echo(f"  {o.name.ljust(width)} = {o.shown(show_sensitive)}")


def _rm_outputs_json(outputs: list[rm.Output], show_sensitive: bool) -> dict:
    # Masked sensitive values are null in JSON, never the secret.
    return {o.name: (o.value if show_sensitive or not o.sensitive else None) for o in outputs}


def _rm_deploy(opts: dict, *, apply: bool) -> None:
    from .model import AUTO_FILLED, build_model
    from .package import build  # the zip builder; imported here to keep `--help` fast

    built = build(opts["config_path"])  # validates first: local mistakes before any request
    spec = rm.VariableSpec.from_variables(built.config.name, build_model(built.config).variables, AUTO_FILLED)
    variables = opts.get("variables") or {}
    spec.check_names(variables)  # a typo in --var is a local mistake too
    console = _RmConsole(opts["as_json"])
    retry = rm.RetrySettings(capacity_pause=opts.get("capacity_pause", 16.0))
    deployer, compartment = _rm_session(opts, console, retry=retry)

    def confirm(plan_job: rm.JobResult, summary: tuple[int, int, int] | None) -> bool:
        if not console.quiet:
            console.done()
            _rm_print_plan(summary, plan_job.id)
        if opts.get("auto_approve"):
            return True
        if not sys.stdin.isatty():
            raise ApprovalRequired("plan not applied", _rm_command_line(opts, "rm-apply", "--auto-approve"))
        return click.confirm("Apply this plan?", default=False, err=True)

    try:
        result = deployer.deploy(
            built.config.name, compartment, built.zip_bytes, variables,
            apply=apply, confirm=confirm if apply else None, retry_capacity=opts.get("retry_capacity", 0),
            spec=spec, allow_replace=bool(opts.get("allow_replace")),
        )
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
    if not apply:
        if opts["as_json"]:
            console.emit(_rm_plan_json(result, variables, spec.sensitive))
        else:
            _rm_print_plan(result.plan, result.plan_job.id)
        return
    if result.apply_job is None:
        click.echo("Apply canceled; nothing was changed.", err=True)
        raise click.exceptions.Exit(1)
    if opts["as_json"]:
        data = _rm_plan_json(result, variables, spec.sensitive)
        data.update(apply_job_id=result.apply_job.id, state=result.apply_job.state, attempts=result.attempts,
                    outputs=_rm_outputs_json(result.outputs, show))
        console.emit(data)
        return
    click.echo(f"Apply job {result.apply_job.id} succeeded.")
    _rm_print_outputs(result.outputs, show)


@cli.command("rm-apply")
@_rm_common
@_var_option
@click.option("--auto-approve", is_flag=True, help="Apply the plan without asking.")
@click.option("--allow-replace", is_flag=True,
              help="Apply even if the plan replaces or destroys the instance (its disk is wiped, its public IP changes).")
@click.option("--retry-capacity", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help='On "Out of host capacity", retry up to N times in the next availability domain.')
@click.option("--capacity-pause", type=click.FloatRange(min=0), default=16.0, show_default=True, metavar="SECONDS",
              help="Pause before each capacity retry (doubles after a 429).")
@click.option("--show-sensitive", is_flag=True, help="Print outputs marked sensitive.")
@_rm_command
def rm_apply_command(**opts: object) -> None:
    """Deploy CONFIG: upload the zip, PLAN, then APPLY that plan and print the outputs.

    The stack is found by name and flowstack tag in the compartment (created when absent);
    a re-run uploads the new zip and keeps the variables set before.  Without
    --auto-approve it asks after the plan, and stops there when not on a terminal.
    A plan that replaces or destroys the server (a changed cloud-init or image does)
    is never applied without --allow-replace, even with --auto-approve.

    \b
    Example:
      flowstack rm-apply stacks/flowspace.yaml --compartment ocid1.compartment.oc1..aaaa --retry-capacity 6
    """
    _rm_deploy(opts, apply=True)


@cli.command("rm-plan")
@_rm_common
@_var_option
@_rm_command
def rm_plan_command(**opts: object) -> None:
    """Upload CONFIG's zip to its stack and run a PLAN job; print what would change.

    \b
    Example:
      flowstack rm-plan stacks/flowspace.yaml --var ssh_public_key="$(cat ~/.ssh/id_ed25519.pub)"
    """
    _rm_deploy(opts, apply=False)


@cli.command("rm-destroy")
@_rm_common
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_rm_command
def rm_destroy_command(**opts: object) -> None:
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


def _rm_job_json(job: rm.JobResult) -> dict:
    return {"id": job.id, "operation": job.operation, "state": job.state, "stack_id": job.stack_id,
            "time_created": job.time_created, "time_finished": job.time_finished,
            "failure": {"code": job.failure_code, "message": job.failure_message} if job.failure_code or job.failure_message else None}


@cli.command("rm-status")
@_rm_common
@click.argument("job_id", metavar="[JOB]", required=False)
@click.option("--follow", is_flag=True, help="Stream the job's logs until it ends; exit non-zero if it fails.")
@_rm_command
def rm_status_command(**opts: object) -> None:
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


@cli.command("rm-logs")
@_rm_common
@click.argument("job_id", metavar="[JOB]", required=False)
def rm_logs_command(**opts: object) -> None:
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


@cli.command("rm-outputs")
@_rm_common
@click.option("--show-sensitive", is_flag=True, help="Print outputs marked sensitive.")
def rm_outputs_command(**opts: object) -> None:
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


# --- emulator ---


@cli.command("emulator")
@click.option("--port", type=click.IntRange(0, 65535), required=True, help="TCP port to listen on; 0 picks a free one (printed).")
@click.option("--state", "state_file", required=True, type=click.Path(dir_okay=False),
              help="JSON file holding stacks and jobs; created if missing, rewritten after every change.")
@click.option("--public-key", "public_keys", multiple=True, metavar="PEM",
              help="API public key (PEM file, or a private key file) whose signatures are accepted; repeatable.")
@click.option("--demo-config", "demo_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Use (or first generate) a key pair and an OCI config file in DIR, and accept that key.")
@click.option("--job-seconds", type=click.FloatRange(min=0), default=3.0, show_default=True,
              help="How long each PLAN/APPLY/DESTROY job runs.")
@click.option("--faults", "faults_file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Faults spec (YAML/JSON) to start with; change it later with POST /_emulator/faults.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--quiet", is_flag=True, help="Do not log each request on stderr.")
def emulator_command(port: int, state_file: str, public_keys: tuple[str, ...], demo_dir: str | None,
                     job_seconds: float, faults_file: str | None, host: str, quiet: bool) -> None:
    """Run a local OCI Resource Manager to try the rm-* commands without an OCI account.

    Serves the Resource Manager REST API (20180917) for stacks and jobs, checks every
    request's OCI signature against the given public keys, and runs simulated Terraform
    jobs with logs and outputs. State survives restarts. Stop it with Ctrl-C.

    \b
    Example:
      flowstack emulator --port 8080 --state /tmp/rm-state.json --demo-config /tmp/rm-demo
      # then, in another terminal:
      flowstack rm-apply stacks/flowspace.yaml --config-file /tmp/rm-demo/config \\
          --endpoint http://127.0.0.1:8080 --auto-approve \\
          --var ssh_public_key="$(cat ~/.ssh/id_ed25519.pub)" --var ssh_source_cidr=203.0.113.7/32
    """
    import signal
    import sys as _sys

    # Imported here: the other commands should not pay for cryptography and the server.
    from .emulator import build_emulator, ensure_demo_credentials
    from .emulator.process import LISTENING
    from .emulator.server import stderr_log

    keys = list(public_keys)
    demo = ensure_demo_credentials(demo_dir) if demo_dir else None
    if demo:
        keys.append(str(demo.public_key_file))
    if not keys:
        raise click.UsageError("give at least one --public-key PEM (or --demo-config DIR)")
    server = build_emulator(state_file=state_file, public_keys=keys, host=host, port=port,
                            job_seconds=job_seconds, faults_file=faults_file, log=None if quiet else stderr_log)
    # The first stdout line is the contract scripts and test fixtures wait for.
    click.echo(f"{LISTENING}{server.url}")
    _sys.stdout.flush()
    if demo:
        click.echo(f"OCI config: {demo.config_file} (profile {demo.profile}); "
                   f"compartment: {demo.tenancy}", err=True)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM ends as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, _terminate)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="flowstack")


if __name__ == "__main__":  # pragma: no cover
    main()
