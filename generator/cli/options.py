"""Command-line options shared by the commands that talk to OCI (rm-*, status) and the
command line that repeats a run's choices.

>>> command_line({"config_path": "s.yaml", "profile": "DEV"}, "rm-status", "--follow")
'flowstack rm-status s.yaml --follow --profile DEV'
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

import click

from generator.core.errors import FlowstackError

from ..deploy import oci_defaults
from ..deploy import variables as rmvars


def oci_options(f: Callable) -> Callable:
    """CONFIG plus the options of every command that talks to OCI (rm-*, status): `deploy.session.OciOptions`."""
    params = [
        click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False)),
        click.option("--profile", default=oci_defaults.DEFAULT_PROFILE, show_default=True, envvar="OCI_CLI_PROFILE",
                     help="Profile in the OCI config file."),
        click.option("--config-file", "oci_config_file", default=oci_defaults.DEFAULT_CONFIG_FILE, show_default=True,
                     envvar="OCI_CLI_CONFIG_FILE", help="OCI config file."),
        click.option("--auth", type=click.Choice(oci_defaults.AUTH_METHODS), default="api_key", show_default=True,
                     help="How to sign requests."),
        click.option("--compartment", metavar="OCID", envvar="FLOWSTACK_COMPARTMENT",
                     help="Compartment of the stack (default: compartment_ocid in the profile)."),
        click.option("--endpoint", metavar="URL", help="Resource Manager endpoint (default: the region's)."),
        click.option("--json", "as_json", is_flag=True, help="Print only data, as JSON."),
    ]
    for param in reversed(params):
        f = param(f)
    return f


def _parse_variables(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    try:
        return rmvars.parse_variables(value)
    except FlowstackError as exc:
        raise click.BadParameter(str(exc).removeprefix("--var: ")) from None


# Two hours: a first APPLY with capacity retries takes well under one; past that something is stuck.
timeout_option = click.option("--timeout", "follow_timeout", type=click.FloatRange(min=1), default=7200.0, show_default=True,
                               metavar="SECONDS", help="Stop following a job after this long (it keeps running; "
                               "the message says how to follow it again).")

at_option = click.option("--at", "apply_at", metavar="HH:MM",
                          help="Quiet hour (server time zone) at which the server applies the change; default: at once.")

var_option = click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", callback=_parse_variables,
                           help="Set a stack variable (repeatable); earlier values on the stack are kept.")


def command_line(opts: dict, name: str, *args: str) -> str:
    """``flowstack NAME CONFIG ARGS`` with this run's non-default OCI options, ready to paste."""
    words = ["flowstack", name, str(opts["config_path"]), *args]
    for flag, key, default in (("--profile", "profile", oci_defaults.DEFAULT_PROFILE),
                               ("--config-file", "oci_config_file", oci_defaults.DEFAULT_CONFIG_FILE),
                               ("--auth", "auth", "api_key"),
                               ("--compartment", "compartment", None),
                               ("--endpoint", "endpoint", None)):
        value = opts.get(key)
        if value and value != default:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)
