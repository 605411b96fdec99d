"""Emulator paths that had no test before the emulator was split by concern.

They pin what the split (records/store/stacks/jobs/operations, routes/admin/httpd/server)
had to keep: list paging and sorting, the plan an APPLY applies (``FROM_LATEST_PLAN_JOB``
and the deprecated ``applyJobPlanResolution``), 405 for a known path, a retry token reused
for another kind of request, a bad or too large ``content-length``, and the loopback-only
admin endpoints.  Real `flowstack emulator` subprocess, real `oci` SDK and its signer, real
HTTP on 127.0.0.1; each test has a case where the emulator refuses.
"""

from __future__ import annotations

import base64
import http.client
from pathlib import Path

import oci
import pytest
import requests
from oci.resource_manager import models as M

from generator.emulator.admin import is_loopback
from generator.emulator.auth import write_demo_credentials
from generator.emulator.server import build_emulator

# End to end: every emulator route over real HTTP with the real oci SDK. The slow suite runs it (make test); make test-fast skips it.
pytestmark = pytest.mark.slow


def create_stack(emulator, zip_bytes: bytes, name: str):
    details = M.CreateStackDetails(
        compartment_id=emulator.compartment_id, display_name=name,
        config_source=M.CreateZipUploadConfigSourceDetails(zip_file_base64_encoded=base64.b64encode(zip_bytes).decode("ascii")),
    )
    return emulator.client().create_stack(details).data


def service_error(call, *args, **kwargs) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as info:
        call(*args, **kwargs)
    return info.value


def signer(emulator) -> oci.signer.Signer:
    c = emulator.config
    return oci.signer.Signer(c["tenancy"], c["user"], c["fingerprint"], c["key_file"])


def test_stack_lists_page_and_sort(rm_emulator, rm_stack_zip) -> None:
    client = rm_emulator.client()
    for name in ("bravo", "Alpha", "charlie"):
        create_stack(rm_emulator, rm_stack_zip(), name)
    first = client.list_stacks(compartment_id=rm_emulator.compartment_id, sort_by="DISPLAYNAME", limit=2)
    assert [s.display_name for s in first.data] == ["Alpha", "bravo"] and first.next_page == "2"
    rest = client.list_stacks(compartment_id=rm_emulator.compartment_id, sort_by="DISPLAYNAME", limit=2, page=first.next_page)
    assert [s.display_name for s in rest.data] == ["charlie"] and rest.next_page is None
    newest = client.list_stacks(compartment_id=rm_emulator.compartment_id).data  # default: TIMECREATED, newest first
    assert [s.display_name for s in newest] == ["charlie", "Alpha", "bravo"]
    bad = service_error(client.list_stacks, compartment_id=rm_emulator.compartment_id, limit=1001)
    assert (bad.status, bad.code) == (400, "InvalidParameter") and "limit" in bad.message
    bad_page = service_error(client.list_stacks, compartment_id=rm_emulator.compartment_id, page="not-a-token")
    assert bad_page.status == 400


def test_apply_finds_the_latest_plan(rm_emulator, rm_stack_zip) -> None:
    client = rm_emulator.client()
    stack = create_stack(rm_emulator, rm_stack_zip(), "flowspace")
    latest = M.CreateApplyJobOperationDetails(execution_plan_strategy="FROM_LATEST_PLAN_JOB")
    none_yet = service_error(client.create_job, M.CreateJobDetails(stack_id=stack.id, job_operation_details=latest))
    assert none_yet.status == 400 and "has no PLAN job" in none_yet.message

    plan = client.create_job(M.CreateJobDetails(stack_id=stack.id, job_operation_details=M.CreatePlanJobOperationDetails())).data
    rm_emulator.wait_for_job(plan.id)
    apply = client.create_job(M.CreateJobDetails(stack_id=stack.id, job_operation_details=latest)).data
    assert apply.resolved_plan_job_id == plan.id
    assert apply.apply_job_plan_resolution.is_use_latest_job_id is True
    assert apply.job_operation_details.execution_plan_strategy == "FROM_LATEST_PLAN_JOB"
    rm_emulator.wait_for_job(apply.id)

    # The deprecated top-level fields mean the same.
    old_style = client.create_job(M.CreateJobDetails(
        stack_id=stack.id, operation="APPLY", apply_job_plan_resolution=M.ApplyJobPlanResolution(plan_job_id=plan.id))).data
    assert old_style.resolved_plan_job_id == plan.id
    assert old_style.job_operation_details.execution_plan_strategy == "FROM_PLAN_JOB_ID"


def test_wrong_method_and_reused_retry_token(rm_emulator, rm_stack_zip) -> None:
    client = rm_emulator.client()
    stack = create_stack(rm_emulator, rm_stack_zip(), "flowspace")
    patch = requests.patch(f"{rm_emulator.url}/20180917/stacks/{stack.id}", json={}, auth=signer(rm_emulator), timeout=10)
    assert patch.status_code == 405 and patch.json()["code"] == "MethodNotAllowed"
    get = requests.get(f"{rm_emulator.url}/20180917/stacks/{stack.id}", auth=signer(rm_emulator), timeout=10)
    assert get.status_code == 200 and get.headers["etag"]

    client.create_stack(M.CreateStackDetails(
        compartment_id=rm_emulator.compartment_id,
        config_source=M.CreateZipUploadConfigSourceDetails(zip_file_base64_encoded=base64.b64encode(rm_stack_zip()).decode()),
    ), opc_retry_token="shared-token")
    reused = service_error(client.create_job, M.CreateJobDetails(
        stack_id=stack.id, job_operation_details=M.CreatePlanJobOperationDetails()), opc_retry_token="shared-token")
    assert (reused.status, reused.code) == (409, "InvalidatedRetryToken")


@pytest.mark.parametrize(("length", "status"), [("abc", 400), ("-1", 400), (str(64 * 1024 * 1024), 413)])
def test_bad_or_too_large_content_length(rm_emulator, length: str, status: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", rm_emulator.port, timeout=10)
    try:
        conn.putrequest("POST", "/20180917/stacks")
        conn.putheader("content-length", length)
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == status and b"content-length" in response.read()
        assert response.getheader("opc-request-id")
    finally:
        conn.close()


def test_admin_endpoints_answer_loopback_clients_only(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.9.9.9") and is_loopback("::1")
    assert not is_loopback("192.0.2.1") and not is_loopback("fe80::1%eth0") and not is_loopback("not an address")
    creds = write_demo_credentials(tmp_path / "oci")
    server = build_emulator(state_file=str(tmp_path / "state.json"), public_keys=[str(creds.public_key_file)], log=None).start()
    try:
        # Only the client address differs; nothing is sent to 192.0.2.1.
        refused = server.handle("GET", "/_emulator/health", {}, b"", "192.0.2.1")
        assert refused.status == 403 and b"loopback" in refused.body
        health = server.handle("GET", "/_emulator/health", {}, b"", "127.0.0.1")
        assert health.status == 200 and creds.fingerprint.encode() in health.body
        json_type = {"content-type": "application/json"}  # a browser form cannot send it (limits.admin_request_problem)
        assert server.handle("PUT", "/_emulator/faults", json_type, b"", "127.0.0.1").status == 404
        assert server.handle("POST", "/_emulator/faults", json_type, b'{"bogus": 1}', "::1").status == 400
        assert server.handle("POST", "/_emulator/faults", {}, b'{"bogus": 1}', "::1").status == 403
    finally:
        server.stop()
