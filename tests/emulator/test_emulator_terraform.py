"""Issue 11 item 3: the emulator's jobs run real Terraform against the provider double.

`flowstack emulator` without --simulate runs each job as `python -m generator.tfdouble job`
(real Terraform; only the cloud is the double's). Replaced: OCI itself. Slow: every job is a
real terraform plan/apply (about 2 s each).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_resource_manager import jobs_of, stacks_named

pytestmark = pytest.mark.slow


@pytest.fixture
def tf_cli(rm_emulator_factory, rm_cli_factory):
    return rm_cli_factory(rm_emulator_factory(terraform=True))


def _logs(emulator, job_id: str) -> list[str]:
    return [e.message for e in emulator.client().get_job_logs(job_id).data]


def test_first_deploy_runs_terraform(tf_cli) -> None:
    result = tf_cli("rm-apply", "--auto-approve", first_run=True)
    assert result.exit_code == 0, result.output
    assert "Apply complete! Resources: 8 added, 0 changed, 0 destroyed." in result.stdout
    assert "  LIVEKIT_API_SECRET      = ********\n" in result.stdout  # isSensitive from Terraform's output -json
    (stack,) = stacks_named(tf_cli.emulator)
    plan_job, apply_job = jobs_of(tf_cli.emulator, stack.id)
    lines = _logs(tf_cli.emulator, plan_job.id)
    assert lines[0].startswith("Terraform v") and "simulated" not in lines[0]
    # Terraform's own plan lines (its -json messages), not the simulation's script.
    assert "oci_core_instance.server: Plan to create" in lines
    assert "Plan: 8 to add, 0 to change, 0 to destroy." in lines
    workdir = Path(f"{tf_cli.emulator.state_file}.terraform") / stack.id
    assert (workdir / "terraform.tfstate").is_file() and (workdir / f"{plan_job.id}.tfplan").is_file()
    # A second run: Terraform reads the kept state and finds nothing to do.
    again = tf_cli("rm-apply", "--auto-approve")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.stdout or "0 to add" in again.stdout


@pytest.mark.parametrize("var, message", [
    ("instance_ocpus=8", "instance_ocpus must be between 1 and 4 (Always Free limit"),
    ("ssh_source_cidr=0.0.0.0/00", "ssh_source_cidr must be an IPv4 CIDR"),
])
def test_bad_var_is_refused_locally_before_upload(tf_cli, var: str, message: str) -> None:
    result = tf_cli("rm-apply", "--auto-approve", *tf_cli.FIRST_RUN_VARS, "--var", var)
    assert result.exit_code != 0
    assert message in result.output and "nothing was sent" in result.output
    assert stacks_named(tf_cli.emulator) == []


def test_terraform_validation_fails_the_job(tf_cli) -> None:
    """A value that skips the local pre-check (set on the stack directly) meets Terraform's rule."""
    result = tf_cli("rm-apply", "--auto-approve", first_run=True)
    assert result.exit_code == 0, result.output
    (stack,) = stacks_named(tf_cli.emulator)
    client = tf_cli.emulator.client()
    import oci

    variables = dict(client.get_stack(stack.id).data.variables, ssh_source_cidr="0.0.0.0/00")
    client.update_stack(stack.id, oci.resource_manager.models.UpdateStackDetails(variables=variables))
    job = client.create_job(oci.resource_manager.models.CreateJobDetails(
        stack_id=stack.id, job_operation_details=oci.resource_manager.models.CreatePlanJobOperationDetails())).data
    done = oci.wait_until(client, client.get_job(job.id), "lifecycle_state", "FAILED", max_wait_seconds=120,
                          max_interval_seconds=1, succeed_on_not_found=False)
    assert done.data.failure_details.code == "TERRAFORM_EXECUTION_ERROR"
    assert "Invalid value for variable" in done.data.failure_details.message
    assert any("ssh_source_cidr must be an IPv4 CIDR" in line for line in _logs(tf_cli.emulator, job.id))


def test_capacity_retry_on_real_terraform(tf_cli) -> None:
    tf_cli.emulator.set_faults(capacity_fail_ads=[1])
    result = tf_cli("rm-apply", "--auto-approve", "--retry-capacity", "2", "--capacity-pause", "0.2", first_run=True)
    assert result.exit_code == 0, result.output
    assert "Out of host capacity in availability domain 1; trying domain 2" in result.stderr
    (stack,) = stacks_named(tf_cli.emulator)
    ops = [(j.operation, j.lifecycle_state) for j in jobs_of(tf_cli.emulator, stack.id)]
    assert ops == [("PLAN", "SUCCEEDED"), ("APPLY", "FAILED"), ("PLAN", "SUCCEEDED"), ("APPLY", "SUCCEEDED")]
    failed = jobs_of(tf_cli.emulator, stack.id)[1]
    assert "Out of host capacity" in tf_cli.emulator.client().get_job(failed.id).data.failure_details.message


def test_replacement_guard_on_real_terraform(tf_cli) -> None:
    assert tf_cli("rm-apply", "--auto-approve", first_run=True).exit_code == 0
    tf_cli.emulator.set_faults(replace_instance_next={"count": 1})
    result = tf_cli("rm-apply", "--auto-approve")
    assert result.exit_code != 0
    assert "replace" in result.output.lower()


def test_a_terraform_job_cut_off_by_a_restart_fails_instead_of_running_forever(tf_cli) -> None:
    import oci

    assert tf_cli("rm-apply", "--auto-approve", first_run=True).exit_code == 0
    (stack,) = stacks_named(tf_cli.emulator)
    client = tf_cli.emulator.client()
    job = client.create_job(oci.resource_manager.models.CreateJobDetails(
        stack_id=stack.id, job_operation_details=oci.resource_manager.models.CreatePlanJobOperationDetails())).data
    tf_cli.emulator.restart()  # Terraform takes ~2 s: the job is still running when its emulator stops
    done = tf_cli.emulator.wait_for_job(job.id, timeout=30)
    assert done.lifecycle_state == "FAILED"
    details = tf_cli.emulator.client().get_job(job.id).data.failure_details
    assert details.code == "TERRAFORM_EXECUTION_ERROR" and "emulator stopped" in details.message


def test_auto_approved_apply_and_destroy_run_terraform(tf_cli) -> None:
    import oci

    m = oci.resource_manager.models
    assert tf_cli("rm-apply", "--auto-approve", first_run=True).exit_code == 0
    (stack,) = stacks_named(tf_cli.emulator)
    client = tf_cli.emulator.client()
    applied = client.create_job(m.CreateJobDetails(stack_id=stack.id, job_operation_details=m.CreateApplyJobOperationDetails(
        execution_plan_strategy="AUTO_APPROVED"))).data
    assert tf_cli.emulator.wait_for_job(applied.id, timeout=60).lifecycle_state == "SUCCEEDED"
    apply_lines = _logs(tf_cli.emulator, applied.id)
    assert "Apply complete! Resources: 0 added, 0 changed, 0 destroyed." in apply_lines, apply_lines  # the kept state
    destroyed = client.create_job(m.CreateJobDetails(stack_id=stack.id, job_operation_details=m.CreateDestroyJobOperationDetails(
        execution_plan_strategy="AUTO_APPROVED"))).data
    assert tf_cli.emulator.wait_for_job(destroyed.id, timeout=60).lifecycle_state == "SUCCEEDED"
    lines = _logs(tf_cli.emulator, destroyed.id)
    assert "Destroy complete! Resources: 8 destroyed." in lines, lines
    state = (Path(f"{tf_cli.emulator.state_file}.terraform") / stack.id / "terraform.tfstate").read_text()
    assert '"resources": []' in state
