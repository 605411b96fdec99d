"""rm-* commands and `generator.deploy.rm`, driven through the real `oci` SDK.

The first group needs no server: broken OCI configs must fail before any request, with
one line each.  The rest run the real SDK over HTTP against the project's Resource
Manager emulator (a subprocess started by the fixtures in conftest.py), with short jobs.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.core.errors import InstanceReplacement, ResourceManagerError
from generator.deploy import ociauth, planlog, policy, results, rm
from generator.deploy import variables as rmvars
from generator.emulator.auth import write_demo_credentials

# End to end: rm-apply and friends through the real oci SDK against a real emulator server. The slow suite runs it (make test); make test-fast skips it.
pytestmark = pytest.mark.slow

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaaflowstacktests"


def invoke(*args: str) -> CliRunner.invoke:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# --------------------------------------------------------------------------- offline


@pytest.fixture
def creds(tmp_path: Path):
    """A real key pair and OCI config file, generated for this test."""
    return write_demo_credentials(tmp_path / "oci")


def error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.output
    return lines[-1]


def test_missing_oci_config_file(tmp_path: Path, root: Path) -> None:
    missing = tmp_path / "nope" / "config"
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", missing, "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: OCI config file {missing} not found: create it with `flowstack oci-setup` (see docs/deploy.md) or pass --config-file\n"
    )


def test_unknown_profile(creds, root: Path) -> None:
    result = invoke(
        "rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file, "--profile", "DEFALT",
        "--compartment", COMPARTMENT,
    )
    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: profile 'DEFALT' not found in {creds.config_file} (did you mean \"DEFAULT\"?)\n"
    )


def test_broken_config_file(tmp_path: Path, root: Path) -> None:
    config = tmp_path / "config"
    config.write_text("user=ocid1.user.oc1..x\n", encoding="utf-8")
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", config, "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert error_line(result).startswith(f"Error: OCI config file {config} is not a valid config file: File contains no section headers.")
    assert len(result.stderr.splitlines()) == 1


def test_missing_key_file(creds, root: Path) -> None:
    creds.key_file.unlink()
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file, "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: key_file {creds.key_file} of profile DEFAULT in {creds.config_file} does not exist\n"
    )


def test_key_file_that_is_not_a_key(creds, root: Path) -> None:
    creds.key_file.write_text("not a key\n", encoding="utf-8")
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file, "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: the key {creds.key_file} of profile DEFAULT is not a PEM private key (or its pass_phrase is wrong)\n"
    )


def test_profile_missing_fields(creds, root: Path) -> None:
    text = creds.config_file.read_text(encoding="utf-8")
    creds.config_file.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("fingerprint")) + "\n", encoding="utf-8"
    )
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file, "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert result.stderr == f"Error: OCI config {creds.config_file} [DEFAULT]: fingerprint is missing\n"


def test_missing_compartment(creds, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWSTACK_COMPARTMENT", raising=False)
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file)
    assert result.exit_code == 4
    assert result.stderr == (
        "Error: no compartment: pass --compartment OCID "
        f"(or set compartment_ocid in profile DEFAULT in {creds.config_file})\n"
    )


def test_compartment_that_is_not_an_ocid(creds, root: Path) -> None:
    result = invoke(
        "rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file, "--compartment", "prod"
    )
    assert result.exit_code == 4
    assert result.stderr == (
        "Error: compartment 'prod' is not a compartment OCID (ocid1.compartment.oc1..<id> or the tenancy OCID)\n"
    )


def test_resource_principal_outside_oci(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the resource principal is tried offline: instance principals would call the
    # metadata service, which is not on this machine's loopback.
    for name in ("OCI_RESOURCE_PRINCIPAL_VERSION", "OCI_RESOURCE_PRINCIPAL_RPST", "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM"):
        monkeypatch.delenv(name, raising=False)
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--auth", "resource_principal", "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: resource principal authentication is not available here: ")
    assert len(result.stderr.splitlines()) == 1


def test_bad_var_is_a_usage_error(creds, root: Path) -> None:
    result = invoke("rm-plan", root / "stacks/flowspace.yaml", "--var", "no-equals-sign")
    assert result.exit_code == 2
    assert "Invalid value for '--var'" in result.stderr


def test_plan_summary() -> None:
    assert planlog.plan_summary(["x", "Plan: 7 to add, 1 to change, 2 to destroy.", "y"]) == (7, 1, 2)
    assert planlog.plan_summary(["Plan: 1 to import, 3 to add, 0 to change, 0 to destroy."]) == (3, 0, 0)
    assert planlog.plan_summary(["No changes. Your infrastructure matches the configuration."]) == (0, 0, 0)
    assert planlog.plan_summary(["Terraform has been successfully initialized!"]) is None


def test_variables_parsing_and_masking() -> None:
    assert rmvars.parse_variables(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    masked = rmvars.mask_variables({"livekit_api_secret": "s3cr3t", "region": "ap-chuncheon-1", "db_password": "p"})
    assert masked == {"db_password": rmvars.MASK, "livekit_api_secret": rmvars.MASK, "region": "ap-chuncheon-1"}


# --------------------------------------------------------------------------- against the emulator


def stacks_named(emulator, name: str = "flowspace") -> list:
    client = emulator.client()
    return [s for s in client.list_stacks(compartment_id=emulator.compartment_id).data if s.display_name == name]


def jobs_of(emulator, stack_id: str) -> list:
    jobs = emulator.client().list_jobs(stack_id=stack_id).data
    return sorted(jobs, key=lambda j: j.time_created)


def make_deployer(emulator, **kwargs) -> rm.Deployer:
    config, signer = ociauth.load_oci_config(emulator.config_file, "DEFAULT")
    kwargs.setdefault("retry", results.RetrySettings(api_seconds=20, api_base_sleep=0.1, api_max_sleep=1))
    return rm.Deployer(config, signer, endpoint=emulator.url, **kwargs)


def test_first_deploy(rm_cli) -> None:
    result = rm_cli("rm-apply", "--auto-approve", first_run=True)
    assert result.exit_code == 0, result.output
    (stack,) = stacks_named(rm_cli.emulator)
    # The config's warnings (as zip prints them) come first, then the job notes.
    notes = [line for line in result.stderr.splitlines() if not line.startswith("Warning: ")]
    assert notes[:2] == [
        f"Created stack flowspace ({stack.id})",
        "Variables set: socket_git_url=https://github.com/flow-coder/flow_metaverse.git, "
        "ssh_public_key=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh test, ssh_source_cidr=203.0.113.7/32",
    ]
    assert notes[2].startswith("PLAN job ") and notes[3].startswith("APPLY job ")
    assert "Plan: 8 to add, 0 to change, 0 to destroy (job " in result.stdout
    assert "Apply complete! Resources: 8 added, 0 changed, 0 destroyed." in result.stdout
    # The secret output is masked, the others are printed.
    assert "  LIVEKIT_API_SECRET      = ********\n" in result.stdout
    assert "  LIVEKIT_API_KEY         = APIFlowspace\n" in result.stdout
    full = rm_cli.emulator.client().get_stack(stack.id).data
    assert full.freeform_tags == {"flowstack-stack": "flowspace"}
    assert full.terraform_version == "1.5.x"
    assert full.variables["compartment_ocid"] == rm_cli.emulator.compartment_id
    assert full.variables["tenancy_ocid"] == rm_cli.emulator.config["tenancy"]
    assert full.variables["region"] == "ap-chuncheon-1"
    assert full.variables["ssh_source_cidr"] == "203.0.113.7/32"
    assert [(j.operation, j.lifecycle_state) for j in jobs_of(rm_cli.emulator, stack.id)] == [
        ("PLAN", "SUCCEEDED"), ("APPLY", "SUCCEEDED")
    ]
    apply_job = jobs_of(rm_cli.emulator, stack.id)[1]
    assert apply_job.job_operation_details.execution_plan_strategy == "FROM_PLAN_JOB_ID"


def test_simulated_job_logs_say_so_in_their_first_line(rm_cli) -> None:
    """Issue 11: the fast tests' emulator runs `--simulate`; nobody may mistake its logs for Terraform's."""
    assert rm_cli("rm-apply", "--auto-approve", first_run=True).exit_code == 0
    (stack,) = stacks_named(rm_cli.emulator)
    for job in jobs_of(rm_cli.emulator, stack.id):
        first = rm_cli.emulator.client().get_job_logs(job.id).data[0].message
        assert "simulated" in first, first


def test_redeploy_updates_the_same_stack(rm_cli, tmp_path: Path) -> None:
    assert rm_cli("rm-apply", "--auto-approve", first_run=True).exit_code == 0
    (stack,) = stacks_named(rm_cli.emulator)
    # A changed config makes a new zip; no --var for ssh_public_key this time: kept.
    changed = tmp_path / "flowspace.yaml"
    text = (rm_cli.config).read_text(encoding="utf-8")
    changed.write_text(text.replace("boot_volume_gbs: 50", "boot_volume_gbs: 60"), encoding="utf-8")
    result = rm_cli("rm-apply", "--auto-approve", "--var", "ssh_source_cidr=198.51.100.9/32", config=changed)
    assert result.exit_code == 0, result.output
    notes = "".join(line for line in result.stderr.splitlines(keepends=True) if not line.startswith("Warning: "))
    assert notes.startswith(f"Updated stack flowspace ({stack.id}) with the new zip\n")
    assert [s.id for s in stacks_named(rm_cli.emulator)] == [stack.id]
    variables = rm_cli.emulator.client().get_stack(stack.id).data.variables
    assert variables["ssh_public_key"].startswith("ssh-ed25519 ")
    assert variables["ssh_source_cidr"] == "198.51.100.9/32"
    from generator.build.pipeline import build

    uploaded = rm_cli.emulator.client().get_stack_tf_config(stack.id).data.content
    assert uploaded == build(changed).zip_bytes
    assert len(jobs_of(rm_cli.emulator, stack.id)) == 4


def test_json_prints_only_data(rm_cli) -> None:
    result = rm_cli("rm-apply", "--auto-approve", "--json", first_run=True)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["plan"] == {"add": 8, "change": 0, "destroy": 0}
    assert data["state"] == "SUCCEEDED" and data["stack_created"] is True and data["attempts"] == 1
    assert data["outputs"]["LIVEKIT_API_SECRET"] is None
    assert data["outputs"]["LIVEKIT_API_KEY"] == "APIFlowspace"

    shown = rm_cli("rm-outputs", "--json", "--show-sensitive")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["LIVEKIT_API_SECRET"]
    masked = rm_cli("rm-outputs")
    assert masked.exit_code == 0
    assert "  LIVEKIT_API_SECRET      = ********\n" in masked.stdout


def test_apply_without_tty_stops_after_plan(rm_cli) -> None:
    result = rm_cli("rm-apply", first_run=True)
    assert result.exit_code == 1
    assert "Plan: 8 to add, 0 to change, 0 to destroy (job " in result.stdout
    em = rm_cli.emulator
    assert result.stderr.splitlines()[-1] == (
        "Error: plan not applied: there is no terminal to confirm on; to go ahead, run: "
        f"flowstack rm-apply {rm_cli.config} --auto-approve --config-file {em.config_file} "
        f"--compartment {em.compartment_id} --endpoint {em.url}"
    )
    (stack,) = stacks_named(em)
    assert [j.operation for j in jobs_of(em, stack.id)] == ["PLAN"]


def test_plan_failure(rm_cli) -> None:
    rm_cli.emulator.set_faults(fail_next={"operation": "PLAN", "message": "Error: Invalid reference"})
    result = rm_cli("rm-apply", "--auto-approve", first_run=True)
    assert result.exit_code == 5
    (stack,) = stacks_named(rm_cli.emulator)
    (plan,) = jobs_of(rm_cli.emulator, stack.id)
    assert f"Error: PLAN job {plan.id} failed: TERRAFORM_EXECUTION_ERROR: Error: Invalid reference\nLast log lines:\n" in result.stderr


def test_apply_failure_shows_details_and_last_log_lines(rm_cli) -> None:
    rm_cli.emulator.set_faults(fail_next={"operation": "APPLY", "message": "Error: 400-InvalidParameter"})
    result = rm_cli("rm-apply", "--auto-approve", first_run=True)
    assert result.exit_code == 5
    (stack,) = stacks_named(rm_cli.emulator)
    plan, apply_job = jobs_of(rm_cli.emulator, stack.id)
    assert apply_job.lifecycle_state == "FAILED"
    message = result.stderr[result.stderr.index("Error: "):]
    assert message.startswith(f"Error: APPLY job {apply_job.id} failed: TERRAFORM_EXECUTION_ERROR: Error: 400-InvalidParameter\n")
    logged = [line.message for line in make_deployer(rm_cli.emulator).logs(apply_job.id)]
    assert message.rstrip("\n").splitlines()[-1] == f"  {logged[-1]}"


def test_capacity_retry_lands_in_the_next_ad(rm_cli) -> None:
    rm_cli.emulator.set_faults(capacity_fail_ads=[1])
    result = rm_cli("rm-apply", "--auto-approve", "--retry-capacity", "2", "--capacity-pause", "0.2", first_run=True)
    assert result.exit_code == 0, result.output
    assert "Out of host capacity in availability domain 1; trying domain 2 in 0.2 s (retry 1 of 2)\n" in result.stderr
    (stack,) = stacks_named(rm_cli.emulator)
    assert rm_cli.emulator.client().get_stack(stack.id).data.variables["availability_domain_number"] == "2"
    assert [(j.operation, j.lifecycle_state) for j in jobs_of(rm_cli.emulator, stack.id)] == [
        ("PLAN", "SUCCEEDED"), ("APPLY", "FAILED"), ("PLAN", "SUCCEEDED"), ("APPLY", "SUCCEEDED")
    ]
    assert "Apply job " in result.stdout and "succeeded." in result.stdout


def test_capacity_failure_without_retries(rm_cli) -> None:
    rm_cli.emulator.set_faults(capacity_fail_ads=[1, 2, 3])
    result = rm_cli("rm-apply", "--auto-approve", "--retry-capacity", "1", "--capacity-pause", "0", first_run=True)
    assert result.exit_code == 5
    assert "Giving up after 2 tries\n" in result.stderr
    assert "Out of host capacity" in result.stderr.split("Error: ", 1)[1]


def test_429_is_retried_with_back_off(rm_emulator, rm_stack_zip) -> None:
    deployer = make_deployer(rm_emulator)
    stack = deployer.find_or_create_stack("small", rm_emulator.compartment_id, rm_stack_zip(), {})
    rm_emulator.set_faults(status_429={"path_prefix": "/20180917/jobs", "method": "POST", "count": 2})
    rm_emulator.reset_stats()
    job = deployer.run_job(stack.id, "PLAN")
    assert job.succeeded
    stats = rm_emulator.stats()
    assert stats["statuses"]["429"] == 2
    assert stats["requests"]["POST /20180917/jobs"] == 3

    # Past the bounded retries, one clear line instead of ten minutes of retrying.
    rm_emulator.set_faults(status_429={"path_prefix": "/20180917/jobs", "method": "POST", "count": 50})
    impatient = make_deployer(rm_emulator, retry=results.RetrySettings(api_seconds=1, api_attempts=3, api_base_sleep=0.05))
    with pytest.raises(ResourceManagerError) as caught:
        impatient.start_job(stack.id, "PLAN")
    assert str(caught.value) == (
        f"Resource Manager kept answering 429 TooManyRequests (starting a PLAN job on stack {stack.id}) "
        "through retries with back-off (up to 1 s); wait a few minutes and run the command again"
    )


def test_throttled_apply_backs_off_harder(rm_emulator, rm_stack_zip) -> None:
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        if seconds >= 1:  # a retry pause: record it, wait only briefly
            pauses.append(seconds)
            seconds = 0.01
        time.sleep(seconds)

    deployer = make_deployer(rm_emulator, sleep=sleep,
                             retry=results.RetrySettings(api_seconds=20, api_base_sleep=0.1, capacity_pause=2))
    rm_emulator.set_faults(
        fail_next={"operation": "APPLY", "count": 2, "message": "Error: 429-TooManyRequests, Too many requests for the tenancy"}
    )
    result = deployer.deploy("small", rm_emulator.compartment_id, rm_stack_zip(), retry_capacity=3)
    assert result.applied and result.attempts == 3
    assert pauses == [2, 4]
    # Throttling is not a capacity problem: the availability domain stays.
    assert policy.AD_VARIABLE not in result.stack.variables


def test_request_signed_with_a_wrong_key_is_rejected(rm_cli, tmp_path: Path) -> None:
    other = write_demo_credentials(tmp_path / "other")  # a real key the emulator does not know
    result = invoke("rm-status", rm_cli.config, "--config-file", other.config_file,
                    "--compartment", rm_cli.emulator.compartment_id, "--endpoint", rm_cli.emulator.url)
    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: the service rejected the request signature (listing stacks in compartment "
        f"{rm_cli.emulator.compartment_id}): check the fingerprint and key for profile DEFAULT in {other.config_file}\n"
    )
    # The right key under a wrong fingerprint fails the same way.
    config = rm_cli.emulator.config_file
    wrong = tmp_path / "wrong-fingerprint"
    wrong.write_text(
        config.read_text(encoding="utf-8").replace(rm_cli.emulator.config["fingerprint"], other.fingerprint),
        encoding="utf-8",
    )
    result = invoke("rm-status", rm_cli.config, "--config-file", wrong,
                    "--compartment", rm_cli.emulator.compartment_id, "--endpoint", rm_cli.emulator.url)
    assert result.exit_code == 4
    assert "check the fingerprint and key for profile DEFAULT in " in result.stderr


def test_job_already_running_is_a_clear_conflict(rm_cli) -> None:
    rm_cli.emulator.set_faults(running_job={"operation": "APPLY", "seconds": 5})
    result = rm_cli("rm-apply", "--auto-approve", first_run=True)
    assert result.exit_code == 5
    (stack,) = stacks_named(rm_cli.emulator)
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"Error: another job is already running on stack {stack.id} (")
    # The hint is a command that works as printed: it names the config file.
    assert f"wait for it with `flowstack rm-status {rm_cli.config} --follow --config-file " in last
    assert "Traceback" not in result.output


# slow: a real rm-apply process / emulator restart on a multi-second job (end to end)
@pytest.mark.slow
def test_ctrl_c_then_status_follow(rm_emulator_factory, rm_cli_factory, root: Path) -> None:
    emulator = rm_emulator_factory(job_seconds=3)
    cli_args = rm_cli_factory(emulator)
    argv = [sys.executable, "-m", "generator.cli", "rm-apply", str(cli_args.config), *cli_args.oci_args(),
            *cli_args.FIRST_RUN_VARS, "--auto-approve"]
    proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in proc.stderr:  # notes go to stderr: wait until the APPLY job exists
            seen.append(line)
            if line.startswith("APPLY job ") and line.endswith(" started\n"):
                break
        else:
            pytest.fail("rm-apply ended before starting the APPLY job: " + "".join(seen))
        job_id = line.split()[2]
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    message = err.splitlines()[-1]
    prefix = (f"Error: interrupted; APPLY job {job_id} keeps running in Resource Manager (it was not canceled). "
              "Follow it with: ")
    assert message.startswith(prefix)
    command = shlex.split(message[len(prefix):])
    assert command[:3] == ["flowstack", "rm-status", str(cli_args.config)] and "--follow" in command
    # The job went on without us; the printed command picks it up.
    assert emulator.client().get_job(job_id).data.lifecycle_state in ("ACCEPTED", "IN_PROGRESS")
    followed = invoke(*command[1:])
    assert followed.exit_code == 0, followed.output
    assert f"APPLY job {job_id}: SUCCEEDED\n" in followed.stdout
    assert "Apply complete!" in followed.stdout
    assert "  LIVEKIT_API_SECRET      = ********\n" in followed.stdout


def test_destroy(rm_cli) -> None:
    assert rm_cli("rm-apply", "--auto-approve", first_run=True).exit_code == 0
    refused = rm_cli("rm-destroy")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: nothing destroyed: there is no terminal to confirm on; to go ahead, run: flowstack rm-destroy ")
    result = rm_cli("rm-destroy", "--yes")
    assert result.exit_code == 0, result.output
    (stack,) = stacks_named(rm_cli.emulator)
    destroy = jobs_of(rm_cli.emulator, stack.id)[-1]
    assert (destroy.operation, destroy.lifecycle_state) == ("DESTROY", "SUCCEEDED")
    assert result.stdout.endswith(f"Destroy job {destroy.id} succeeded.\n")
    assert "Destroy complete!" in result.stdout


def test_status_and_logs_of_the_newest_job(rm_cli) -> None:
    assert rm_cli("rm-plan", first_run=True).exit_code == 0
    (stack,) = stacks_named(rm_cli.emulator)
    (plan,) = jobs_of(rm_cli.emulator, stack.id)
    status = rm_cli("rm-status", "--json")
    assert status.exit_code == 0
    assert json.loads(status.stdout)["id"] == plan.id
    assert json.loads(status.stdout)["state"] == "SUCCEEDED"
    logs = rm_cli("rm-logs")
    assert logs.exit_code == 0
    assert "Plan: 8 to add, 0 to change, 0 to destroy." in logs.stdout
    no_outputs = rm_cli("rm-outputs")
    assert no_outputs.exit_code == 5
    assert no_outputs.stderr == f"Error: stack 'flowspace' ({stack.id}) has no succeeded APPLY job yet\n"


# slow: a real rm-apply process / emulator restart on a multi-second job (end to end)
@pytest.mark.slow
def test_logs_stream_without_gaps_or_repeats(rm_emulator_factory, rm_stack_zip) -> None:
    emulator = rm_emulator_factory(job_seconds=3)
    streamed: list[str] = []
    deployer = make_deployer(emulator, hooks=results.Hooks(on_log=lambda line: streamed.append(line.message)),
                             poll=results.PollSettings())  # the real polling policy, not the fixtures' quick one
    stack = deployer.find_or_create_stack("small", emulator.compartment_id, rm_stack_zip(), {})
    emulator.reset_stats()
    started = time.monotonic()
    job = deployer.run_job(stack.id, "APPLY")
    took = time.monotonic() - started
    assert job.succeeded
    assert streamed == [line.message for line in deployer.logs(job.id)]
    assert len(streamed) > 5 and streamed == job.lines
    # Noticed the end within the 2 s poll ceiling, at about one request a second.
    assert took < 3 + 2.5
    requests = emulator.stats()["requests"]
    polls = requests["GET /20180917/jobs/{jobId}"] + requests["GET /20180917/jobs/{jobId}/logs"]
    assert polls <= took + 2


def test_first_status_check_within_a_second(rm_emulator_factory, rm_stack_zip) -> None:
    emulator = rm_emulator_factory(job_seconds=0.1)
    deployer = make_deployer(emulator, poll=results.PollSettings())  # the real polling policy, not the fixtures' quick one
    stack = deployer.find_or_create_stack("small", emulator.compartment_id, rm_stack_zip(), {})
    started = time.monotonic()
    assert deployer.run_job(stack.id, "PLAN").succeeded
    assert time.monotonic() - started < 1.0


# slow: a real rm-apply process / emulator restart on a multi-second job (end to end)
@pytest.mark.slow
def test_emulator_restart_mid_job_keeps_stacks_and_jobs(rm_emulator_factory, rm_stack_zip) -> None:
    emulator = rm_emulator_factory(job_seconds=3)
    restarted = []

    def on_status(status: results.JobStatus) -> None:
        if status.state == "IN_PROGRESS" and not restarted:
            # Down for a second: the follower's next requests are refused (the SDK retries
            # them), then meet a new process reading the same state file.
            emulator.stop()
            restarted.append(threading.Timer(1.0, emulator.restart))
            restarted[0].start()

    deployer = make_deployer(emulator, hooks=results.Hooks(on_status=on_status))
    stack = deployer.find_or_create_stack("small", emulator.compartment_id, rm_stack_zip(), {})
    job = deployer.run_job(stack.id, "APPLY")
    restarted[0].join()
    assert job.succeeded
    assert job.lines == [line.message for line in deployer.logs(job.id)]
    assert deployer.find_stack("small", emulator.compartment_id).id == stack.id
    assert [j.id for j in jobs_of(emulator, stack.id)] == [job.id]
    assert deployer.outputs(job.id)


def test_secret_variables_are_masked(rm_emulator, rm_stack_zip) -> None:
    notes: list[str] = []
    deployer = make_deployer(rm_emulator, hooks=results.Hooks(on_note=notes.append))
    result = deployer.deploy("small", rm_emulator.compartment_id, rm_stack_zip(),
                             {"db_password": "hunter2", "domain": "example.org"}, apply=False)
    assert result.plan_job.succeeded
    assert notes[1] == "Variables set: db_password=********, domain=example.org"
    assert "hunter2" not in "\n".join(notes + result.plan_job.lines)


def test_unreachable_endpoint_fails_at_once(creds, root: Path) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file,
                    "--compartment", COMPARTMENT, "--endpoint", f"http://127.0.0.1:{port}")
    assert result.exit_code == 5
    assert result.stderr == (
        f"Error: cannot reach Resource Manager at http://127.0.0.1:{port} "
        f"(listing stacks in compartment {COMPARTMENT}): [Errno 111] Connection refused\n"
    )
    assert time.monotonic() - started < 5  # no half minute of retries before the first answer


# --------------------------------------------------------------------------- stack variables

SLACK_URL = "https://hooks.slack.com/services/T/B/SECRETXYZ"
ALARM = "traffic_alarm:\n  enabled: true\n  emails: [a@example.com]\n  slack: true"
JWT_SECRET_ENV = {"  env:\n    NODE_ENV: production\n": "  env:\n    NODE_ENV: production\n  secret_env: [JWT_SECRET]\n"}


def test_variable_spec_from_the_stack_model(rm_config) -> None:
    from generator.config.load import load_config
    from generator.core.contract import AUTO_FILLED
    from generator.derive.model import build_model

    config = load_config(rm_config(replace=JWT_SECRET_ENV, append=ALARM))
    spec = rmvars.VariableSpec.from_variables(config.name, build_model(config).variables, AUTO_FILLED)
    assert spec.sensitive == {"alarm_slack_url", "socket_secret_jwt_secret", "socket_git_token"}
    # socket_git_url: the reference config keeps the example repository (issue 10 item 12).
    assert spec.required == ("ssh_public_key", "ssh_source_cidr", "socket_git_url", "socket_secret_jwt_secret", "alarm_slack_url")
    assert {"tenancy_ocid", "compartment_ocid", "region", "availability_domain_number"} <= spec.names
    # The name pattern alone misses the webhook URL; the model's flag catches it.
    assert not rmvars.is_secret_name("alarm_slack_url")
    assert rmvars.mask_variables({"alarm_slack_url": SLACK_URL, "x": "1"}, spec.sensitive) == {
        "alarm_slack_url": rmvars.MASK, "x": "1"
    }


@pytest.mark.parametrize(
    ("variant", "name", "value"),
    [
        ({"append": ALARM}, "alarm_slack_url", SLACK_URL),
        ({"replace": JWT_SECRET_ENV}, "socket_secret_jwt_secret", "jwt-SECRETXYZ-signing-key"),
    ],
    ids=["alarm_slack_url", "socket_secret_jwt_secret"],
)
def test_sensitive_variables_never_reach_the_terminal(rm_cli, rm_config, variant, name, value) -> None:
    config = rm_config(**variant)
    result = rm_cli("rm-apply", "--auto-approve", "--var", f"{name}={value}", config=config, first_run=True)
    assert result.exit_code == 0, result.output
    assert "SECRETXYZ" not in result.stdout and "SECRETXYZ" not in result.stderr
    (note,) = [line for line in result.stderr.splitlines() if line.startswith("Variables set: ")]
    assert f"{name}=********" in note.removeprefix("Variables set: ").split(", ")
    (stack,) = stacks_named(rm_cli.emulator)
    assert rm_cli.emulator.client().get_stack(stack.id).data.variables[name] == value  # it was sent

    # --json lists the variables set, the sensitive one as null.
    again = rm_cli("rm-apply", "--auto-approve", "--json", "--var", f"{name}={value}", config=config)
    assert again.exit_code == 0, again.output
    assert "SECRETXYZ" not in again.stdout and again.stderr == ""
    assert json.loads(again.stdout)["variables"] == {name: None}


def test_a_var_without_equals_is_not_echoed(rm_cli) -> None:
    result = rm_cli("rm-apply", "--auto-approve", "--var", SLACK_URL)
    assert result.exit_code == 2
    assert "SECRETXYZ" not in result.output
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--var': expected NAME=VALUE, got an argument without '=' "
        "(not repeated here: it may be a secret)"
    )


def test_unknown_var_name_fails_before_any_request(rm_cli) -> None:
    rm_cli.emulator.reset_stats()
    result = rm_cli("rm-apply", "--auto-approve", "--var", "ssh_sorce_cidr=203.0.113.7/32", first_run=True)
    assert result.exit_code == 2
    assert result.stderr == (
        'Error: --var ssh_sorce_cidr: stack flowspace has no variable ssh_sorce_cidr (did you mean "ssh_source_cidr"?)\n'
    )
    assert result.stdout == ""
    assert rm_cli.emulator.stats()["total"] == 0
    assert stacks_named(rm_cli.emulator) == []
    # Names the model does not know but Resource Manager fills in are accepted.
    rmvars.VariableSpec.from_variables("flowspace", [], ("tenancy_ocid",)).check_names(["tenancy_ocid"])


def without_warnings(stderr: str) -> str:
    """stderr without the config's ``Warning:`` lines (rm-apply prints what zip would, first)."""
    return "".join(line for line in stderr.splitlines(keepends=True) if not line.startswith("Warning: "))


def test_missing_required_variable_fails_before_the_upload(rm_cli) -> None:
    result = rm_cli("rm-apply", "--auto-approve", "--var", rm_cli.FIRST_RUN_VARS[1], "--var", rm_cli.FIRST_RUN_VARS[5])
    assert result.exit_code == 2
    assert without_warnings(result.stderr) == (
        "Error: stack flowspace has no value for ssh_source_cidr (no default, and not set on the stack yet); "
        "pass it with --var ssh_source_cidr=203.0.113.7/32\n"
    )
    assert stacks_named(rm_cli.emulator) == []
    both = rm_cli("rm-plan")
    assert both.exit_code == 2
    assert without_warnings(both.stderr) == (
        "Error: stack flowspace has no value for ssh_public_key, ssh_source_cidr, socket_git_url (no default, and not set on "
        'the stack yet); pass them with --var ssh_public_key="$(cat ~/.ssh/id_ed25519.pub)" '
        "--var ssh_source_cidr=203.0.113.7/32 --var socket_git_url=https://github.com/you/your-app.git\n"
    )
    assert stacks_named(rm_cli.emulator) == []


def test_missing_variable_on_an_existing_stack(rm_cli, rm_config) -> None:
    assert rm_cli("rm-apply", "--auto-approve", first_run=True).exit_code == 0
    (stack,) = stacks_named(rm_cli.emulator)
    uploaded = rm_cli.emulator.client().get_stack_tf_config(stack.id).data.content
    # The stack's own values count (no --var needed for ssh_*); the new alarm URL does not exist yet.
    result = rm_cli("rm-apply", "--auto-approve", config=rm_config(append=ALARM))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: stack flowspace has no value for alarm_slack_url (no default, and not set on the stack yet); "
        "pass it with --var alarm_slack_url=https://hooks.slack.com/services/..."
    )
    assert len(jobs_of(rm_cli.emulator, stack.id)) == 2  # no PLAN ran
    assert rm_cli.emulator.client().get_stack_tf_config(stack.id).data.content == uploaded  # nothing uploaded


# --------------------------------------------------------------------------- instance replacement


def test_instance_changes_in_plan_logs() -> None:
    lines = [
        "Terraform will perform the following actions:",
        "  # oci_core_vcn.main will be destroyed",
        "  # oci_core_instance.server must be replaced",
        '-/+ resource "oci_core_instance" "server" {',
        "  # module.app.oci_core_instance.worker[0] will be destroyed",
        '  - resource "oci_core_instance" "worker" {',
        '\x1b[1m  # oci_core_instance.other\x1b[0m will be replaced, as requested',
        '+/- resource "oci_core_instance" "headless" {',
        "  # oci_core_instance.kept will be updated in-place",
        "  # oci_core_instance.new will be created",
    ]
    assert planlog.instance_changes(lines) == [
        ("oci_core_instance.server", "replaced"),
        ("module.app.oci_core_instance.worker[0]", "destroyed"),
        ("oci_core_instance.other", "replaced"),
        ("oci_core_instance.headless", "replaced"),
    ]
    assert planlog.instance_changes(["Plan: 7 to add, 0 to change, 0 to destroy."]) == []


def test_replacing_the_server_needs_allow_replace(rm_cli) -> None:
    em = rm_cli.emulator
    assert rm_cli("rm-apply", "--auto-approve", first_run=True).exit_code == 0
    (stack,) = stacks_named(em)

    # rm-plan only warns.
    em.set_faults(replace_instance_next={"count": 1})
    planned = rm_cli("rm-plan")
    assert planned.exit_code == 0, planned.output
    assert "  # oci_core_instance.server must be replaced\n" in planned.stdout
    assert "This plan changes the server (oci_core_instance.server replaced): " in planned.stderr

    em.set_faults(replace_instance_next={"count": 1})
    refused = rm_cli("rm-apply", "--auto-approve")
    assert refused.exit_code == 1
    plan = jobs_of(em, stack.id)[-1]
    assert [j.operation for j in jobs_of(em, stack.id)] == ["PLAN", "APPLY", "PLAN", "PLAN"]  # no APPLY
    assert '-/+ resource "oci_core_instance" "server" {\n' in refused.stdout
    # The reserved public IP moves to the new instance in place (issue 15): its address stays.
    assert "  # oci_core_public_ip.server will be updated in-place\n" in refused.stdout
    assert re.search(r'\n      ~ private_ip_id        = "ocid1\.privateip\.[^"]+" -> \(known after apply\)\n', refused.stdout)
    assert refused.stdout.endswith(f"Plan: 1 to add, 1 to change, 1 to destroy (job {plan.id}).\n")
    message = refused.stderr.splitlines()[-1]
    prefix = (
        f"Error: PLAN job {plan.id} would replace the server (oci_core_instance.server): its boot disk would be "
        "wiped, and its public IP would change unless it is a reserved one (network.reserved_ip) (this happens when "
        "cloud-init (the server setup in the config) or "
        "the image changed); nothing was applied. To go ahead anyway, run: "
    )
    assert message.startswith(prefix)
    command = shlex.split(message[len(prefix):])
    assert command[:3] == ["flowstack", "rm-apply", str(rm_cli.config)]
    assert "--auto-approve" in command and "--allow-replace" in command

    # The printed command goes ahead.
    em.set_faults(replace_instance_next={"count": 1})
    allowed = invoke(*command[1:])
    assert allowed.exit_code == 0, allowed.output
    assert "--allow-replace: going ahead although this plan changes the server (oci_core_instance.server replaced)" in allowed.stderr
    assert "oci_core_instance.server: Destroying... [id=" in allowed.stdout
    assert "Apply complete! Resources: 1 added, 1 changed, 1 destroyed." in allowed.stdout
    assert "oci_core_public_ip.server: Modifications complete after 1s [id=" in allowed.stdout
    jobs = jobs_of(em, stack.id)
    assert [(j.operation, j.lifecycle_state) for j in jobs[-2:]] == [("PLAN", "SUCCEEDED"), ("APPLY", "SUCCEEDED")]
    assert em.faults() == {}  # each fault fired once


def test_library_refuses_replacement_without_allow_replace(rm_emulator, rm_stack_zip) -> None:
    deployer = make_deployer(rm_emulator)
    assert deployer.deploy("small", rm_emulator.compartment_id, rm_stack_zip()).applied
    rm_emulator.set_faults(replace_instance_next={"count": 1})
    with pytest.raises(InstanceReplacement) as caught:
        deployer.deploy("small", rm_emulator.compartment_id, rm_stack_zip(), confirm=lambda job, summary: True)
    assert caught.value.changes == [("oci_core_instance.server", "replaced")]
    assert caught.value.summary == (1, 0, 1)
    stack = deployer.find_stack("small", rm_emulator.compartment_id)
    assert [j.operation for j in jobs_of(rm_emulator, stack.id)] == ["PLAN", "APPLY", "PLAN"]
