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
    from ..ops import agentssh, probe
    from ..ops import doctor as doctor_lib
    from ..ops import status as status_lib
else:
    status_lib = lazy_module("generator.ops.status")
    doctor_lib = lazy_module("generator.ops.doctor")
    probe = lazy_module("generator.ops.probe")
    agentssh = lazy_module("generator.ops.agentssh")


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


def _ssh_options(f: Any) -> Any:
    for option in reversed([
        # flag_value: `--ssh` alone logs in to the instance's own public IP as ubuntu.
        click.option("--ssh", "ssh_dest", metavar="[USER@]HOST", is_flag=False, flag_value="",
                     help="Also read the server's agent over SSH: its state, last change, attempts and next try, pending change, "
                          "disk use, certificates. USER defaults to ubuntu, HOST to the instance's public IP."),
        click.option("--ssh-port", type=click.IntRange(1, 65535), metavar="PORT", help="SSH port (default: ssh's, 22)."),
        click.option("-i", "--ssh-key", "ssh_key", type=click.Path(exists=True, dir_okay=False), metavar="KEYFILE",
                     help="Private key for --ssh (default: ssh-agent and ssh's usual keys)."),
        click.option("-o", "--ssh-option", "ssh_options", multiple=True, metavar="KEY=VALUE",
                     help="An option for ssh, as `ssh -o` takes it (repeatable)."),
    ]):
        f = option(f)
    return f


def _ssh_request(dest: str | None, port: int | None, key: str | None, options: tuple[str, ...]) -> agentssh.SshRequest | None:
    if dest is None:
        if port or key or options:
            raise click.UsageError("--ssh-port, -i and -o go with --ssh [USER@]HOST")
        return None
    return agentssh.SshRequest(dest, port, key, tuple(options))


@click.command("status")
@oci_options
@_probe_options
@click.option("--plot", metavar="FILE.png|FILE.svg", help="Also draw daily egress against the free allowance's pace as a picture.")
@click.option("--no-health", is_flag=True, help="Skip the HTTPS health probes.")
@_ssh_options
@click.option("--server-only", is_flag=True, help="Only the server's agent over --ssh USER@HOST: no OCI call, no health probe.")
def status_command(config_path: str, profile: str, oci_config_file: str, auth: str, compartment: str | None, endpoint: str | None,
                   as_json: bool, resolve: tuple[str, ...], ca_file: str | None, timeout: float, plot: str | None, no_health: bool,
                   ssh_dest: str | None, ssh_port: int | None, ssh_key: str | None, ssh_options: tuple[str, ...], server_only: bool) -> None:
    """The deployed stack now: last apply, instance, CPU/memory, egress this month, idle-reclamation risk, health.

    \b
    --endpoint is used for every OCI service (Resource Manager, Compute, Monitoring): the
    emulator serves them all. Without it each service's regional endpoint is used.
    \b
    --ssh reads the server's own view with your ssh (BatchMode, 10 s to connect,
    30 s in all): `sudo -n /usr/local/sbin/flowstack-agent --status-json`.
    \b
    Exit codes: 0 all read and every health check passed; 1 a part could not be
    read (the SSH login too), the instance is not RUNNING, a health check failed
    (--no-health skips them), or the server's agent reports a failed change, a
    disk over its share or a readiness problem; 2 a bad option or config; 4 the
    OCI config is unusable; 6 --server-only and the SSH login or the agent's read failed.
    \b
    Example:
      flowstack status stacks/flowspace.yaml --plot egress.svg
      flowstack status stacks/flowspace.yaml --ssh
      flowstack status stacks/flowspace.yaml --server-only --ssh root@10.0.0.10 -i key --ssh-port 2222
    """
    ssh = _ssh_request(ssh_dest, ssh_port, ssh_key, ssh_options)
    if server_only:
        if ssh is None or not ssh.dest.rpartition("@")[2]:
            raise click.UsageError("--server-only needs --ssh [USER@]HOST (there is no instance lookup to find the IP)")
        report = status_lib.server_only(config_path, ssh)
    else:
        report = status_lib.run(config_path, oci_config_file=oci_config_file, profile=profile, auth=auth, compartment=compartment,
                                endpoint=endpoint, target=_target(resolve, ca_file, timeout), health=not no_health, plot=plot, ssh=ssh)
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
@_ssh_options
def doctor_command(config_path: str, ip: str | None, resolve: tuple[str, ...], ca_file: str | None, timeout: float, as_json: bool,
                   media: bool, api_key: str | None, api_secret: str | None, ssh_dest: str | None, ssh_port: int | None,
                   ssh_key: str | None, ssh_options: tuple[str, ...]) -> None:
    """Probe every public port a browser and a LiveKit client need; PASS/WARN/FAIL, each with a one-line fix.

    \b
    Example:
      flowstack doctor stacks/flowspace.yaml --ip 203.0.113.10
      LIVEKIT_API_SECRET=... flowstack doctor stacks/flowspace.yaml --media
      flowstack doctor stacks/flowspace.yaml --ip 203.0.113.10 --ssh   (adds the server's agent, disk, certificates)

    --resolve and --ca-file are for split DNS and private CAs (and tests); --media
    uses the system resolver and reads --ca-file as SSL_CERT_FILE.
    """
    if media and not api_secret:
        api_secret = click.prompt("LiveKit API secret", hide_input=True, err=True)
    ssh = _ssh_request(ssh_dest, ssh_port, ssh_key, ssh_options)
    rows = doctor_lib.diagnose(config_path, _target(resolve, ca_file, timeout), ip, api_secret if media else None, api_key, ssh)
    click.echo(dumps([r.to_dict() for r in rows]) if as_json else doctor_lib.format_rows(rows))
    if any(r.status == "FAIL" for r in rows):
        raise SystemExit(1)


COMMANDS = (status_command, doctor_command)
