"""`flowstack emulator`: a local OCI Resource Manager for the rm-* commands.

>>> emulator_command.name
'emulator'
"""

from __future__ import annotations

import os
import shlex
import sys

import click

from ..tfdouble.binary import TerraformNotFound, find_terraform

# The emulator reads its job program from this variable (generator/emulator/tfjobs.py: it imports
# nothing of generator, so the CLI names the program: real Terraform against the provider double).
TF_JOB_ENV = "FLOWSTACK_EMULATOR_TF_JOB"
TF_JOB_COMMAND = shlex.join([sys.executable, "-m", "generator.tfdouble", "job"])


def choose_job_runner(simulate: bool) -> str:
    """Set the emulator's job program (real Terraform when found) and say which runs the jobs."""
    os.environ.pop(TF_JOB_ENV, None)
    if simulate:
        return "jobs are simulated (--simulate): no Terraform runs"
    try:
        tf = find_terraform()
    except TerraformNotFound as exc:
        return f"jobs are simulated: {exc}"
    os.environ[TF_JOB_ENV] = TF_JOB_COMMAND
    return f"jobs run Terraform {tf.version} ({tf.path}) against the offline provider double"


@click.command("emulator")
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
@click.option("--metrics", "metrics_file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Instances and metric series for the Compute/Monitoring APIs (see generator/emulator/telemetry.py); change later with POST /_emulator/metrics.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--quiet", is_flag=True, help="Do not log each request on stderr.")
@click.option("--simulate", is_flag=True, help="Simulate the jobs (timed, made-up logs) even when Terraform is found.")
def emulator_command(port: int, state_file: str, public_keys: tuple[str, ...], demo_dir: str | None,
                     job_seconds: float, faults_file: str | None, metrics_file: str | None, host: str, quiet: bool,
                     simulate: bool) -> None:
    """Run a local OCI Resource Manager to try the rm-* commands without an OCI account.

    Serves the Resource Manager REST API (20180917) for stacks and jobs, checks every
    request's OCI signature against the given public keys, and runs each job with real
    Terraform against flowstack's offline provider double (simulated jobs when no terraform
    is found, or with --simulate; --job-seconds only times those). State survives restarts.
    Stop it with Ctrl-C.

    \b
    Example:
      flowstack emulator --port 8080 --state /tmp/rm-state.json --demo-config /tmp/rm-demo
      # then, in another terminal:
      flowstack rm-apply stacks/flowspace.yaml --config-file /tmp/rm-demo/config \\
          --endpoint http://127.0.0.1:8080 --auto-approve \\
          --var ssh_public_key="$(cat ~/.ssh/id_ed25519.pub)" --var ssh_source_cidr=203.0.113.7/32
    """
    # Imported here: the other commands should not pay for cryptography and the server (keeps `--help` fast).
    from ..emulator.run import serve
    runner = choose_job_runner(simulate)  # printed once the server is up (before that, stderr is for errors)

    serve(state_file=state_file, public_keys=list(public_keys), demo_dir=demo_dir, host=host, port=port,
          job_seconds=job_seconds, faults_file=faults_file, quiet=quiet, metrics_file=metrics_file, runner_note=f"emulator: {runner}",
          out=click.echo, note=lambda text: click.echo(text, err=True))
