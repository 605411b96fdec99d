"""Operating commands: `status` (usage, egress pace, idle-reclamation risk, health) and `doctor` (public ports).

Both parse options, call one library function (`ops.status.run`, `ops.doctor.diagnose`)
and print; they exit 1 when something is wrong (a FAIL row, a part of the status
that could not be read), after printing everything they found.

>>> status_command.name, doctor_command.name
('status', 'doctor')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from generator.core.errors import FlowstackError

from .console import dumps
from .lazy import lazy_module
from .options import oci_options

# The oci SDK (status) and cryptography (the probes) cost start-up time: `--help` should not pay.
if TYPE_CHECKING:
    from ..ops import doctor as doctor_lib
    from ..ops import probe
    from ..ops import status as status_lib
else:
    status_lib = lazy_module("generator.ops.status")
    doctor_lib = lazy_module("generator.ops.doctor")
    probe = lazy_module("generator.ops.probe")


def _target(resolve: tuple[str, ...], ca_file: str | None, timeout: float) -> probe.Target:
    try:
        return probe.Target(resolve=probe.parse_resolve(resolve), ca_file=ca_file, timeout=timeout)
    except FlowstackError as exc:
        raise click.BadParameter(str(exc).removeprefix("--resolve: "), param_hint="--resolve") from None


def _probe_options(f: Any) -> Any:
    for option in reversed([
        click.option("--resolve", multiple=True, metavar="HOST=IP", help="Use IP for HOST instead of DNS (repeatable), like curl --resolve."),
        click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="Trust these CA certificates (PEM) instead of the system store."),
        click.option("--timeout", type=click.FloatRange(0.2, 30), default=4.0, show_default=True, help="Seconds each probe may take."),
    ]):
        f = option(f)
    return f


@click.command("status")
@oci_options
@_probe_options
@click.option("--plot", metavar="FILE.png|FILE.svg", help="Also draw daily egress against the free allowance's pace as a picture.")
@click.option("--no-health", is_flag=True, help="Skip the HTTPS health probes.")
def status_command(config_path: str, profile: str, oci_config_file: str, auth: str, compartment: str | None, endpoint: str | None,
                   as_json: bool, resolve: tuple[str, ...], ca_file: str | None, timeout: float, plot: str | None, no_health: bool) -> None:
    """The deployed stack now: last apply, instance, CPU/memory, egress this month, idle-reclamation risk, health.

    \b
    --endpoint is used for every OCI service (Resource Manager, Compute, Monitoring): the
    emulator serves them all. Without it each service's regional endpoint is used.
    \b
    Exit codes: 0 all read and every health check passed; 1 a part could not be
    read, the instance is not RUNNING, or a health check failed (--no-health skips
    them); 2 a bad option or config; 4 the OCI config is unusable.
    \b
    Example:
      flowstack status stacks/flowspace.yaml --plot egress.svg
    """
    report = status_lib.run(config_path, oci_config_file=oci_config_file, profile=profile, auth=auth, compartment=compartment,
                            endpoint=endpoint, target=_target(resolve, ca_file, timeout), health=not no_health, plot=plot)
    click.echo(dumps(report) if as_json else status_lib.format_status(report))
    if report["problems"] or status_lib.health_failed(report):
        raise SystemExit(1)


@click.command("doctor")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--ip", metavar="IP", help="The instance's public IP (flowstack status shows it); default: what the LiveKit host resolves to.")
@_probe_options
@click.option("--json", "as_json", is_flag=True, help="Print only data, as JSON.")
@click.option("--media", is_flag=True, help="Also join a room with the real LiveKit SDK, publish a tone, report the transport (extra `media`).")
@click.option("--api-key", metavar="KEY", help="LiveKit API key for --media (default: livekit.api_key of the config).")
@click.option("--api-secret", metavar="SECRET", envvar="LIVEKIT_API_SECRET",
              help="LiveKit API secret for --media (`flowstack rm-outputs` shows it); asked for, hidden, if not given. Env: LIVEKIT_API_SECRET.")
def doctor_command(config_path: str, ip: str | None, resolve: tuple[str, ...], ca_file: str | None, timeout: float, as_json: bool,
                   media: bool, api_key: str | None, api_secret: str | None) -> None:
    """Probe every public port a browser and a LiveKit client need; PASS/WARN/FAIL, each with a one-line fix.

    \b
    Example:
      flowstack doctor stacks/flowspace.yaml --ip 203.0.113.10
      LIVEKIT_API_SECRET=... flowstack doctor stacks/flowspace.yaml --media

    --resolve and --ca-file are for split DNS and private CAs (and tests); --media
    uses the system resolver and reads --ca-file as SSL_CERT_FILE.
    """
    if media and not api_secret:
        api_secret = click.prompt("LiveKit API secret", hide_input=True, err=True)
    rows = doctor_lib.diagnose(config_path, _target(resolve, ca_file, timeout), ip, api_secret if media else None, api_key)
    click.echo(dumps([r.to_dict() for r in rows]) if as_json else doctor_lib.format_rows(rows))
    if any(r.status == "FAIL" for r in rows):
        raise SystemExit(1)


COMMANDS = (status_command, doctor_command)
