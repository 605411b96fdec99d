"""Stack commands: init, generate, zip, validate, plan, ports, preview, env.

Each parses its arguments, calls one library function and prints.

>>> sorted(c.name for c in COMMANDS)[:3]
['env', 'generate', 'init']
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from generator.build.envfile import ENV_HEADER, env_block, read_outputs
from generator.build.pipeline import build, default_build_dir, default_zip_path
from generator.build.preview import derived_hosts, preview_files, preview_modes
from generator.build.starter import write_starter
from generator.config.load import load_config
from generator.core.errors import FlowstackError, ValidationFailed
from generator.core.files import write_file, write_tree
from generator.derive.bootnames import auto_domain_lines
from generator.derive.ports import policy
from generator.emit.jsonschema import schema_text

from ..checks.report import format_table
from ..checks.run import plan_path, validate_path
from ..cost.fleet import check_scale_cost
from ..deploy.variables import parse_variables


def _parse_vars(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    # The one --var parser (rm-* use it too): a value is never repeated, a name never stripped.
    try:
        return parse_variables(value)
    except FlowstackError as exc:
        raise click.BadParameter(str(exc).removeprefix("--var: "), ctx=ctx, param=param) from None


def warning_lines(report: object) -> list[str]:
    """``check: problem`` for each warning of a report: a check that passed with a warning (e.g. a
    reported, unverified limit, a cost) is still news to the user."""
    return [f"{result.check}: {problem}" for result in getattr(report, "results", []) if result.status == "warn"
            for problem in result.problems or [result.detail]]


def echo_warnings(report: object) -> None:
    """Print the report's warnings on stderr, one ``Warning:`` line each."""
    for line in warning_lines(report):
        click.echo(f"Warning: {line}", err=True)


@click.command("init")
@click.argument("path", required=False, default="stacks/mystack.yaml", type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="Stack name (default: the file name without .yaml).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init_command(path: str, name: str | None, force: bool) -> None:
    """Write a commented starter config to PATH (default stacks/mystack.yaml).

    Example: flowstack init stacks/myspace.yaml
    """
    target = write_starter(Path(path), name, force=force)
    click.echo(f"Wrote {target} (and its editor schema beside it): it deploys as is with sslip.io names and the sample app; "
               f"run `flowstack zip {target}`, later set domains and socket")


@click.command("schema")
def schema_command() -> None:
    """Print the config's JSON Schema (Draft 2020-12) for editors and CI.

    Example: flowstack schema > stacks/flowstack.schema.json
    """
    click.echo(schema_text(), nl=False)


@click.command("generate")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(file_okay=False), help="Directory to write (default build/<name>/).")
@click.option("--dry-run", is_flag=True, help="Render and check, list the files, write nothing.")
@click.option("--allow-paid", is_flag=True, help="Allow a size over the Always Free limits.")
def generate_command(config_path: str, output: str | None, dry_run: bool, allow_paid: bool) -> None:
    """Render CONFIG into a Terraform stack directory (main.tf, variables.tf, ...).

    Example: flowstack generate stacks/flowspace.yaml -o build/flowspace
    """
    built = build(config_path, allow_paid=allow_paid)
    echo_warnings(built.report)
    dest = Path(output) if output else default_build_dir(built.config)
    if dry_run:
        for name, data in built.files.items():
            click.echo(f"{name}\t{len(data)} bytes")
        return
    write_tree(built.files, dest)
    click.echo(f"Wrote {len(built.files)} files to {dest}")
    for line in auto_domain_lines(built.config):
        click.echo(line)


@click.command("zip")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Zip to write (default dist/<name>-stack.zip).")
@click.option("--allow-paid", is_flag=True, help="Allow a size over the Always Free limits.")
def zip_command(config_path: str, output: str | None, allow_paid: bool) -> None:
    """Render, validate and zip CONFIG for Resource Manager (byte-reproducible).

    Example: flowstack zip stacks/flowspace.yaml -o dist/flowspace-stack.zip
    """
    built = build(config_path, allow_paid=allow_paid)
    echo_warnings(built.report)
    dest = Path(output) if output else default_zip_path(built.config)
    write_file(built.zip_bytes, dest, replaces=b"PK\x03\x04")
    digest = built.sha256[:16]
    click.echo(f"Wrote {dest} ({len(built.zip_bytes):,} bytes, sha256 {digest}...): upload it in OCI Resource Manager")
    for line in auto_domain_lines(built.config):
        click.echo(line)


@click.command("validate")
@click.argument("path", type=click.Path(exists=False))
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON only.")
@click.option("--no-external", is_flag=True, help="Skip Terraform and Checkov even when installed.")
@click.option("--allow-paid", is_flag=True, help="Allow a size over the Always Free limits.")
@click.option("--var", "values", multiple=True, callback=_parse_vars, metavar="NAME=VALUE",
              help="A deploy-time value for Terraform's plan (others get samples); repeatable.")
def validate_command(path: str, as_json: bool, no_external: bool, allow_paid: bool, values: dict[str, str]) -> None:
    """Check a config file or a generated stack directory; exit non-zero on any failure.

    Terraform itself validates and plans the stack (offline, against flowstack's provider double).

    Example: flowstack validate build/flowspace --json
    """
    report = validate_path(path, external=not no_external, allow_paid=allow_paid, variables=values)
    scale_line = check_scale_cost(load_config(path)) if Path(path).is_file() else None  # several nodes: their monthly cost
    if scale_line is not None:
        report.results.append(scale_line)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        if not report.ok:
            raise click.exceptions.Exit(ValidationFailed.exit_code)
        return
    click.echo(format_table(report))
    if not report.ok:
        raise ValidationFailed(report, report.summary())


@click.command("plan")
@click.argument("path", metavar="CONFIG", type=click.Path(exists=False))
@click.option("--var", "values", multiple=True, callback=_parse_vars, metavar="NAME=VALUE",
              help="A deploy-time value (others get samples); repeatable.")
def plan_command(path: str, values: dict[str, str]) -> None:
    """Print the offline Terraform plan of CONFIG (or a stack directory): what Resource Manager will create.

    Example: flowstack plan stacks/flowspace.yaml --var instance_ocpus=2
    """
    plan = plan_path(path, values)
    for change in plan.changes:
        if change.actions not in (("no-op",), ("read",)):
            action = "replace" if change.replaces else "+".join(change.actions)
            click.echo(f"{action:8} {change.address}")
    click.echo(f"{plan.count} resource(s) to create, update or replace (Terraform {plan.terraform_version}, offline plan): {plan.summary}")


@click.command("ports")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the policy as JSON.")
def ports_command(config_path: str, as_json: bool) -> None:
    """Print the port policy of CONFIG: port, protocol, source, who needs it, why.

    Example: flowstack ports stacks/flowspace.yaml
    """
    rules = policy(load_config(config_path))
    rows = [{"port": r.ports, "protocol": r.protocol, "source": r.source.replace("var.", ""), "who": r.who, "why": r.why} for r in rules]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    widths = {k: max(len(k), *(len(str(row[k])) for row in rows)) for k in ("port", "protocol", "source", "who")}
    head = "  ".join(k.ljust(widths[k]) for k in widths) + "  why"
    click.echo(head)
    for row in rows:
        click.echo("  ".join(str(row[k]).ljust(widths[k]) for k in widths) + f"  {row['why']}")


@click.command("preview")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--sample", is_flag=True, help="Fill deploy-time values with samples.")
@click.option("--var", "values", multiple=True, callback=_parse_vars, metavar="NAME=VALUE", help="A deploy-time value (repeatable).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Directory to write the preview into.")
def preview_command(config_path: str, sample: bool, values: dict[str, str], output: str) -> None:
    """Write what the server will receive: cloud-init and the config bundle after templatefile(), and every file they write.

    Example: flowstack preview stacks/flowspace.yaml --sample -o build/preview
    """
    config = load_config(config_path)
    files = preview_files(config, values, sample=sample)
    write_tree(files, Path(output), preview_modes(files, config))
    click.echo(f"Wrote {len(files)} files to {output} (cloud-init.yaml and files/...)")
    for key, host in derived_hosts(files).items():
        click.echo(f"{key}: {host} (sslip.io, for a server at the sample IP in files/opt/flowstack/hostnames.env)")
    if config.socket.sample:
        click.echo("socket: the built-in sample app (files/opt/flowstack/sample-app), built on the server by docker compose")


@click.command("env")
@click.argument("outputs_path", metavar="OUTPUTS_JSON", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--show-sensitive", is_flag=True, help="Print the LiveKit API secret too.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the full block (secret included) to this file, mode 0600.")
def env_command(outputs_path: str, show_sensitive: bool, output: str | None) -> None:
    """Print the front end's .env.production block from stack outputs JSON.

    OUTPUTS_JSON may be - (standard input).

    Example: terraform output -json > out.json && flowstack env out.json
    """
    outputs = read_outputs(outputs_path)
    if output:
        text = env_block(outputs, show_sensitive=True)
        write_file(text.encode("utf-8"), Path(output), mode=0o600, replaces=ENV_HEADER.encode("utf-8"))
        click.echo(f"Wrote {output} (mode 0600, includes the LiveKit API secret)")
        return
    click.echo(env_block(outputs, show_sensitive=show_sensitive), nl=False)




COMMANDS = (init_command, schema_command, generate_command, zip_command, validate_command, plan_command, ports_command, preview_command, env_command)
