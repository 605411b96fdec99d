"""The Resource Manager emulator, driven by the real `oci` SDK over real HTTP.

Every test talks to a `flowstack emulator` subprocess (fixtures in conftest.py) with
requests signed by a key generated for the test.  Jobs are short (0.8 s by default).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import oci
import pytest
from oci.resource_manager import models as M

from generator.emulator.auth import fingerprint_of, load_public_key, write_demo_credentials

# End to end: the emulator as a real HTTP server driven by the real oci SDK. The slow suite runs it (make test); make test-fast skips it.
pytestmark = pytest.mark.slow

IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def create_stack(emulator, zip_bytes: bytes, **kwargs):
    details = M.CreateStackDetails(
        compartment_id=emulator.compartment_id,
        display_name=kwargs.pop("display_name", "flowspace"),
        config_source=M.CreateZipUploadConfigSourceDetails(
            zip_file_base64_encoded=base64.b64encode(zip_bytes).decode("ascii")
        ),
        terraform_version="1.5.x",
        **kwargs,
    )
    return emulator.client().create_stack(details)


def start_job(client, stack_id: str, operation: str, **op):
    kinds = {
        "PLAN": M.CreatePlanJobOperationDetails,
        "APPLY": M.CreateApplyJobOperationDetails,
        "DESTROY": M.CreateDestroyJobOperationDetails,
    }
    return client.create_job(M.CreateJobDetails(stack_id=stack_id, job_operation_details=kinds[operation](**op))).data


def messages(client, job_id: str) -> list[str]:
    return [entry.message for entry in client.get_job_logs(job_id, limit=1000).data]


def service_error(call, *args, **kwargs) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as info:
        call(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------- stacks


def test_stack_create_get_list_update_delete(rm_emulator, rm_stack_zip) -> None:
    client = rm_emulator.client()
    created = create_stack(rm_emulator, rm_stack_zip(), variables={"domain": "flow.example.com"},
                           freeform_tags={"app": "flowspace"})
    stack = created.data
    assert created.headers["etag"] and created.headers["opc-request-id"]
    assert stack.id.startswith("ocid1.ormstack.")
    assert stack.lifecycle_state == "ACTIVE"
    assert stack.config_source.config_source_type == "ZIP_UPLOAD"
    assert stack.variables == {"domain": "flow.example.com"}
    assert stack.terraform_version == "1.5.x"
    assert stack.freeform_tags == {"app": "flowspace"}
    assert stack.time_created is not None

    fetched = client.get_stack(stack.id)
    assert fetched.data.id == stack.id and fetched.headers["etag"] == created.headers["etag"]
    assert base64.b64encode(client.get_stack_tf_config(stack.id).data.content) == base64.b64encode(rm_stack_zip())

    for name in ("second", "third"):
        create_stack(rm_emulator, rm_stack_zip(), display_name=name)
    first_page = client.list_stacks(compartment_id=rm_emulator.compartment_id, limit=2)
    assert len(first_page.data) == 2 and first_page.next_page
    second_page = client.list_stacks(compartment_id=rm_emulator.compartment_id, limit=2, page=first_page.next_page)
    assert len(second_page.data) == 1 and second_page.next_page is None
    everything = oci.pagination.list_call_get_all_results(
        client.list_stacks, compartment_id=rm_emulator.compartment_id, limit=1).data
    assert sorted(s.display_name for s in everything) == ["flowspace", "second", "third"]
    assert [s.display_name for s in client.list_stacks(
        compartment_id=rm_emulator.compartment_id, display_name="second").data] == ["second"]
    assert client.list_stacks(compartment_id=rm_emulator.compartment_id, lifecycle_state="DELETED").data == []

    # Optimistic concurrency: the etag from the GET must match.
    stale = service_error(client.update_stack, stack.id, M.UpdateStackDetails(description="x"), if_match="0" * 40)
    assert (stale.status, stale.code) == (412, "NoEtagMatch")
    updated = client.update_stack(
        stack.id,
        M.UpdateStackDetails(
            variables={"domain": "other.example.com"},
            freeform_tags={"app": "flowspace", "env": "test"},
            config_source=M.UpdateZipUploadConfigSourceDetails(
                zip_file_base64_encoded=base64.b64encode(rm_stack_zip({"extra.tf": ""})).decode()),
        ),
        if_match=fetched.headers["etag"],
    )
    assert updated.data.variables == {"domain": "other.example.com"}
    assert updated.data.freeform_tags["env"] == "test"
    assert updated.headers["etag"] != fetched.headers["etag"]

    client.delete_stack(stack.id, if_match=updated.headers["etag"])
    assert client.get_stack(stack.id).data.lifecycle_state == "DELETED"
    assert stack.id not in [s.id for s in client.list_stacks(compartment_id=rm_emulator.compartment_id).data]
    gone = service_error(client.create_job, M.CreateJobDetails(
        stack_id=stack.id, job_operation_details=M.CreatePlanJobOperationDetails()))
    assert (gone.status, gone.code) == (404, "NotAuthorizedOrNotFound")


def test_bad_requests_get_oci_errors(rm_emulator, rm_stack_zip) -> None:
    client = rm_emulator.client()
    missing = service_error(client.get_stack, "ocid1.ormstack.oc1.ap-chuncheon-1.nothere")
    assert (missing.status, missing.code) == (404, "NotAuthorizedOrNotFound")
    assert missing.headers["opc-request-id"]
    bad = service_error(client.create_stack, M.CreateStackDetails(
        compartment_id=rm_emulator.compartment_id,
        config_source=M.CreateZipUploadConfigSourceDetails(zip_file_base64_encoded="not base64!"),
    ))
    assert (bad.status, bad.code) == (400, "InvalidParameter")
    stack = create_stack(rm_emulator, rm_stack_zip()).data
    destroy = service_error(client.create_job, M.CreateJobDetails(
        stack_id=stack.id, operation="DESTROY"))
    assert destroy.status == 400 and "AUTO_APPROVED" in destroy.message
    unlisted = service_error(client.list_stacks)
    assert (unlisted.status, unlisted.code) == (400, "MissingParameter")

    # A create retried with the same opc-retry-token gives the first result, not a twin.
    details = M.CreateJobDetails(stack_id=stack.id, job_operation_details=M.CreatePlanJobOperationDetails())
    first = client.create_job(details, opc_retry_token="retry-token-1").data
    again = client.create_job(details, opc_retry_token="retry-token-1").data
    assert again.id == first.id
    assert len(client.list_jobs(stack_id=stack.id).data) == 1


# --------------------------------------------------------------------------- jobs


def test_plan_then_apply_from_plan_gives_outputs(rm_emulator_factory, rm_stack_zip) -> None:
    rm_emulator = rm_emulator_factory(job_seconds=0.8)  # the plan must still be running when APPLY is asked for
    client = rm_emulator.client()
    stack = create_stack(rm_emulator, rm_stack_zip(), variables={"domain": "flow.example.com"}).data

    plan = start_job(client, stack.id, "PLAN")
    assert plan.lifecycle_state == "ACCEPTED" and plan.operation == "PLAN"
    # An APPLY cannot use a plan that has not succeeded yet.
    early = service_error(client.create_job, M.CreateJobDetails(stack_id=stack.id, job_operation_details=M.CreateApplyJobOperationDetails(
        execution_plan_strategy="FROM_PLAN_JOB_ID", execution_plan_job_id=plan.id)))
    assert early.status in (400, 409)
    plan = rm_emulator.wait_for_job(plan.id)
    assert plan.lifecycle_state == "SUCCEEDED" and plan.time_finished >= plan.time_created
    assert messages(client, plan.id)[-1] == "Plan: 3 to add, 0 to change, 0 to destroy."
    assert client.list_job_outputs(plan.id).data.items == []

    apply = start_job(client, stack.id, "APPLY", execution_plan_strategy="FROM_PLAN_JOB_ID", execution_plan_job_id=plan.id)
    assert apply.resolved_plan_job_id == plan.id
    assert apply.apply_job_plan_resolution.plan_job_id == plan.id
    assert apply.job_operation_details.execution_plan_strategy == "FROM_PLAN_JOB_ID"
    apply = rm_emulator.wait_for_job(apply.id)
    assert apply.lifecycle_state == "SUCCEEDED" and apply.failure_details is None
    log = messages(client, apply.id)
    assert "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in log
    assert any(line.startswith("oci_core_instance.server: Creation complete") for line in log)
    assert "livekit_api_secret = <sensitive>" in log

    outputs = {o.output_name: o for o in client.list_job_outputs(apply.id).data.items}
    assert IP.match(outputs["public_ip"].output_value)
    assert outputs["public_ip"].description == "Public address of the server"
    assert outputs["livekit_url"].output_value == "wss://space-livekit.flow.example.com"
    assert outputs["livekit_api_secret"].is_sensitive is True
    assert outputs["public_ip"].is_sensitive is False
    assert f'public_ip = "{outputs["public_ip"].output_value}"' in log

    # Terraform state carries over: applying again changes nothing, destroying removes all.
    again = rm_emulator.wait_for_job(start_job(client, stack.id, "APPLY", execution_plan_strategy="AUTO_APPROVED").id)
    assert "Apply complete! Resources: 0 added, 0 changed, 0 destroyed." in messages(client, again.id)
    destroy = rm_emulator.wait_for_job(start_job(client, stack.id, "DESTROY", execution_plan_strategy="AUTO_APPROVED").id)
    assert destroy.lifecycle_state == "SUCCEEDED"
    assert messages(client, destroy.id)[-1] == "Destroy complete! Resources: 3 destroyed."

    jobs = client.list_jobs(stack_id=stack.id).data
    assert [j.operation for j in jobs] == ["DESTROY", "APPLY", "APPLY", "PLAN"]  # newest first


def test_logs_grow_while_the_job_runs(rm_emulator, rm_stack_zip) -> None:
    client = rm_emulator.client()
    stack = create_stack(rm_emulator, rm_stack_zip()).data
    rm_emulator.set_faults(slow_next={"operation": "APPLY", "seconds": 2.0})
    job = start_job(client, stack.id, "APPLY", execution_plan_strategy="AUTO_APPROVED")

    seen: list[tuple] = []
    since = None
    mid_job_count = None
    while True:
        state = client.get_job(job.id).data.lifecycle_state
        kwargs = {"timestamp_greater_than_or_equal_to": since} if since else {}
        for entry in client.get_job_logs(job.id, **kwargs).data:
            key = (entry.timestamp, entry.message)
            if seen and key == seen[-1]:
                continue  # the filter is inclusive: the last entry seen comes back once
            seen.append(key)
        if seen:
            since = seen[-1][0]
        if state == "IN_PROGRESS" and mid_job_count is None and len(seen) > 3:
            mid_job_count = len(seen)
        if state in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.1)

    everything = [(e.timestamp, e.message) for e in client.get_job_logs(job.id).data]
    assert mid_job_count is not None and mid_job_count < len(everything)
    assert seen == everything  # nothing lost, nothing twice
    assert len({t for t, _ in everything}) == len(everything)  # one timestamp per entry
    assert everything[-1][1].startswith("livekit_api_secret")

    # Paging and the other filters.
    first = client.get_job_logs(job.id, limit=5)
    assert len(first.data) == 5 and first.next_page
    rest = client.get_job_logs(job.id, limit=1000, page=first.next_page).data
    assert [(e.timestamp, e.message) for e in first.data + rest] == everything
    newest = client.get_job_logs(job.id, sort_order="DESC", limit=1).data[0]
    assert newest.message == everything[-1][1]
    assert client.get_job_logs(job.id, level_greater_than_or_equal_to="ERROR").data == []
    content = client.get_job_logs_content(job.id).data
    assert "Apply complete!" in content


def test_one_job_at_a_time_and_cancel(rm_emulator, rm_stack_zip) -> None:
    client = rm_emulator.client()
    stack = create_stack(rm_emulator, rm_stack_zip()).data
    rm_emulator.set_faults(slow_next={"operation": "PLAN", "seconds": 5})
    plan = start_job(client, stack.id, "PLAN")
    conflict = service_error(start_job, client, stack.id, "APPLY", execution_plan_strategy="AUTO_APPROVED")
    assert (conflict.status, conflict.code) == (409, "IncorrectState")
    assert plan.id in conflict.message

    client.cancel_job(plan.id)
    # CANCELING lasts 0.5 s; a loaded machine may only see the end of it.
    assert client.get_job(plan.id).data.lifecycle_state in ("CANCELING", "CANCELED")
    canceled = rm_emulator.wait_for_job(plan.id)
    assert canceled.lifecycle_state == "CANCELED"
    assert messages(client, plan.id)[-1].startswith("Job canceled.")
    finished = service_error(client.cancel_job, plan.id)
    assert finished.status == 409

    # "A job that is already running": one someone else started, real and visible.
    rm_emulator.set_faults(running_job={"operation": "APPLY", "seconds": 1})
    conflict = service_error(start_job, client, stack.id, "PLAN")
    assert conflict.status == 409
    others = [j for j in client.list_jobs(stack_id=stack.id).data if j.lifecycle_state in ("ACCEPTED", "IN_PROGRESS")]
    assert [j.display_name for j in others] == ["apply-job-started-elsewhere"]
    assert rm_emulator.wait_for_job(others[0].id).lifecycle_state == "SUCCEEDED"
    assert rm_emulator.wait_for_job(start_job(client, stack.id, "PLAN").id).lifecycle_state == "SUCCEEDED"


# --------------------------------------------------------------------------- signatures


def test_unknown_key_is_not_authenticated(rm_emulator, tmp_path: Path) -> None:
    stranger = write_demo_credentials(tmp_path / "stranger")
    client = oci.resource_manager.ResourceManagerClient(
        stranger.as_config(), service_endpoint=rm_emulator.url, retry_strategy=oci.retry.NoneRetryStrategy())
    error = service_error(client.list_stacks, compartment_id=rm_emulator.compartment_id)
    assert (error.status, error.code) == (401, "NotAuthenticated")
    assert stranger.fingerprint in error.message

    # Same fingerprint in the keyId but signed by another key: still refused.
    impostor = dict(stranger.as_config(), fingerprint=rm_emulator.config["fingerprint"])
    client = oci.resource_manager.ResourceManagerClient(
        impostor, service_endpoint=rm_emulator.url, retry_strategy=oci.retry.NoneRetryStrategy())
    error = service_error(client.list_stacks, compartment_id=rm_emulator.compartment_id)
    assert error.status == 401 and "signature" in error.message


def _signed(emulator, method: str, path: str, body: bytes | None):
    """A request signed by the real SDK signer, as (headers, body) ready to send."""
    from oci._vendor import requests

    signer = oci.signer.Signer.from_config(emulator.config)
    request = requests.Request(method, emulator.url + path, data=body,
                               headers={"content-type": "application/json"}).prepare()
    signer(request)
    return dict(request.headers), request.body


def _send(emulator, method: str, path: str, headers: dict, body: bytes | None) -> tuple[int, dict]:
    parts = urlsplit(emulator.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_signature_covers_body_path_and_headers(rm_emulator, rm_stack_zip) -> None:
    body = json.dumps({
        "compartmentId": rm_emulator.compartment_id, "displayName": "signed",
        "configSource": {"configSourceType": "ZIP_UPLOAD",
                         "zipFileBase64Encoded": base64.b64encode(rm_stack_zip()).decode()},
    }).encode()
    headers, signed_body = _signed(rm_emulator, "POST", "/20180917/stacks", body)

    tampered = signed_body.replace(b'"signed"', b'"forged"')  # same length, other bytes
    status, error = _send(rm_emulator, "POST", "/20180917/stacks", headers, tampered)
    assert (status, error["code"]) == (401, "NotAuthenticated")
    assert "x-content-sha256" in error["message"]

    forged_hash = dict(headers, **{"x-content-sha256": base64.b64encode(b"0" * 32).decode()})
    status, error = _send(rm_emulator, "POST", "/20180917/stacks", forged_hash, signed_body)
    assert status == 401  # the hash is signed: changing it breaks the signature

    status, error = _send(rm_emulator, "POST", "/20180917/jobs", headers, signed_body)
    assert status == 401  # (request-target) is signed

    unsigned = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    assert _send(rm_emulator, "POST", "/20180917/stacks", unsigned, signed_body)[0] == 401

    status, stack = _send(rm_emulator, "POST", "/20180917/stacks", headers, signed_body)
    assert status == 200 and stack["displayName"] == "signed"

    get_headers, _ = _signed(rm_emulator, "GET", f"/20180917/stacks/{stack['id']}", None)
    assert _send(rm_emulator, "GET", f"/20180917/stacks/{stack['id']}", get_headers, None)[0] == 200
    stale = dict(get_headers, date="Mon, 01 Jan 2024 00:00:00 GMT")
    assert _send(rm_emulator, "GET", f"/20180917/stacks/{stack['id']}", stale, None)[0] == 401


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_fingerprint_matches_openssl(tmp_path: Path) -> None:
    creds = write_demo_credentials(tmp_path)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(creds.public_key_file), "-outform", "DER"],
                         check=True, capture_output=True).stdout
    digest = subprocess.run(["openssl", "md5", "-c"], input=der, check=True, capture_output=True).stdout.decode()
    assert digest.strip().split()[-1] == creds.fingerprint == fingerprint_of(load_public_key(creds.key_file))


# --------------------------------------------------------------------------- faults


def test_capacity_failure_in_chosen_ad(rm_emulator_factory, rm_stack_zip) -> None:
    rm_emulator = rm_emulator_factory(faults={"capacity_fail_ads": [1]})  # through --faults FILE
    client = rm_emulator.client()
    stack = create_stack(rm_emulator, rm_stack_zip(), variables={"availability_domain_number": "1"}).data

    failed = rm_emulator.wait_for_job(start_job(client, stack.id, "APPLY", execution_plan_strategy="AUTO_APPROVED").id)
    assert failed.lifecycle_state == "FAILED"
    assert failed.failure_details.code == "TERRAFORM_EXECUTION_ERROR"
    assert "500-InternalError, Out of host capacity." in failed.failure_details.message
    log = client.get_job_logs(failed.id).data
    errors = [e.message for e in log if e.level == "ERROR"]
    assert errors[0] == "Error: 500-InternalError, Out of host capacity."
    assert any("with oci_core_instance.server" in m for m in errors)
    assert client.list_job_outputs(failed.id).data.items == []

    # The next AD has room; the network created before the failure stays.
    stack = client.get_stack(stack.id)
    client.update_stack(stack.data.id, M.UpdateStackDetails(variables={"availability_domain_number": "2"}),
                        if_match=stack.headers["etag"])
    ok = rm_emulator.wait_for_job(start_job(client, stack.data.id, "APPLY", execution_plan_strategy="AUTO_APPROVED").id)
    assert ok.lifecycle_state == "SUCCEEDED"
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in messages(client, ok.id)


def test_injected_failures_and_stats(rm_emulator, rm_stack_zip) -> None:
    client = rm_emulator.client()
    stack = create_stack(rm_emulator, rm_stack_zip()).data
    rm_emulator.reset_stats()
    rm_emulator.set_faults(status_429={"path_prefix": "/20180917/jobs", "count": 2},
                           status_500={"path_prefix": "/20180917/stacks", "method": "GET"},
                           fail_next={"operation": "PLAN", "message": "Error: injected"})
    for _ in range(2):
        throttled = service_error(client.list_jobs, stack_id=stack.id)
        assert (throttled.status, throttled.code) == (429, "TooManyRequests")
    assert client.list_jobs(stack_id=stack.id).data == []
    broken = service_error(client.get_stack, stack.id)
    assert (broken.status, broken.code) == (500, "InternalServerError")
    assert client.get_stack(stack.id).data.id == stack.id
    assert rm_emulator.faults() == {"fail_next": {"operation": "PLAN", "code": "TERRAFORM_EXECUTION_ERROR",
                                                  "message": "Error: injected", "count": 1}}

    plan = rm_emulator.wait_for_job(start_job(client, stack.id, "PLAN").id)
    assert plan.lifecycle_state == "FAILED"
    assert (plan.failure_details.code, plan.failure_details.message) == ("TERRAFORM_EXECUTION_ERROR", "Error: injected")
    assert rm_emulator.faults() == {}

    # The SDK's default retry strategy rides over a 429 by itself.
    rm_emulator.set_faults(status_429={"path_prefix": "/20180917/stacks/", "count": 1})
    retrying = rm_emulator.client(retry_strategy=oci.retry.RetryStrategyBuilder(
        max_attempts=3, total_elapsed_time_seconds=10, retry_base_sleep_time_seconds=0.05,
        retry_exponential_growth_factor=1, retry_max_wait_between_calls_seconds=0.1,
        backoff_type=oci.retry.BACKOFF_FULL_JITTER_VALUE).get_retry_strategy())
    assert retrying.get_stack(stack.id).data.id == stack.id

    stats = rm_emulator.stats()
    assert stats["requests"]["GET /20180917/jobs"] == 3
    assert stats["requests"]["GET /20180917/stacks/{stackId}"] == 4
    assert stats["statuses"]["429"] == 3 and stats["statuses"]["500"] == 1

    with pytest.raises(Exception) as info:
        rm_emulator.set_faults(capacity_fail_ads="one")
    assert getattr(info.value, "code", None) == 400


# --------------------------------------------------------------------------- persistence


# slow: the emulator process is restarted in the middle of a multi-second job (end to end)
@pytest.mark.slow
def test_restart_mid_job_loses_nothing(rm_emulator, rm_stack_zip) -> None:
    client = rm_emulator.client()
    stack = create_stack(rm_emulator, rm_stack_zip()).data
    rm_emulator.set_faults(slow_next={"operation": "APPLY", "seconds": 2.5}, capacity_fail_ads=[3])
    job = start_job(client, stack.id, "APPLY", execution_plan_strategy="AUTO_APPROVED")
    while client.get_job(job.id).data.lifecycle_state != "IN_PROGRESS":
        time.sleep(0.05)
    before = len(client.get_job_logs(job.id).data)

    port = rm_emulator.port
    rm_emulator.restart()
    assert rm_emulator.port == port
    # The same client (and its pooled connection to the old process) carries on.
    assert client.get_stack(stack.id).data.display_name == "flowspace"
    assert client.get_job(job.id).data.lifecycle_state in ("IN_PROGRESS", "SUCCEEDED")
    assert rm_emulator.faults() == {"capacity_fail_ads": [3]}

    done = rm_emulator.wait_for_job(job.id)
    assert done.lifecycle_state == "SUCCEEDED"
    log = messages(client, job.id)
    assert len(log) > before and "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in log
    saved = json.loads(rm_emulator.state_file.read_text())
    assert saved["jobs"][job.id]["lifecycleState"] == "SUCCEEDED"


# --------------------------------------------------------------------------- CLI


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from generator.cli import cli

    state = str(tmp_path / "state.json")
    result = CliRunner().invoke(cli, ["emulator", "--port", "0", "--state", state,
                                      "--public-key", str(tmp_path / "missing.pem")])
    assert result.exit_code == 4
    assert result.output.strip().splitlines() == [f"Error: public key {tmp_path / 'missing.pem'}: cannot read (No such file or directory)"]

    creds = write_demo_credentials(tmp_path / "oci")
    faults = tmp_path / "faults.yaml"
    faults.write_text("capacity_fail_adz: [1]\n")
    result = CliRunner().invoke(cli, ["emulator", "--port", "0", "--state", state,
                                      "--public-key", str(creds.public_key_file), "--faults", str(faults)])
    assert result.exit_code == 2
    assert "capacity_fail_adz: unknown fault" in result.output

    result = CliRunner().invoke(cli, ["emulator", "--port", "0", "--state", state])
    assert result.exit_code == 2 and "--public-key" in result.output


def test_the_real_entry_point_serves_signed_requests_and_stops_on_sigterm(rm_emulator_factory, rm_stack_zip) -> None:
    """The fixtures start the emulator through tests/emulator_main.py; this one starts it as
    `python -m generator.cli emulator` (every command loaded), as a user would, runs a job
    through the SDK, and stops it with SIGTERM: a clean exit that leaves its state written."""
    emulator = rm_emulator_factory(real_entry=True)
    stack = create_stack(emulator, rm_stack_zip(), display_name="entry").data
    job = start_job(emulator.client(), stack.id, "PLAN")
    assert emulator.wait_for_job(job.id).lifecycle_state == "SUCCEEDED"
    proc = emulator.proc
    emulator.stop()
    assert proc is not None and proc.returncode == 0, emulator.log_file.read_text()
    assert stack.id in json.loads(emulator.state_file.read_text())["stacks"]
