"""Real Terraform applies, re-plans and destroys generated stacks through the provider double.

Replaced: OCI itself (unreachable here); the double (generator/tfdouble) fakes the cloud
with deterministic values and injects OCI's faults. Terraform, the stacks and the
providers' schemas are real. See tests/tfdouble/test_tfdouble.py for what is what.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
from pathlib import Path

import pytest
from tfdouble_support import (
    VARIANTS,
    errors_text,
    generate_variant,
    resource_changes,
    sample_variables,
)

from generator.tfdouble import cloud
from generator.tfdouble.runner import (
    Terraform,
    TerraformNotFound,
    TerraformRun,
    find_terraform,
    terraform_version,
)

# ---------------- apply, re-plan, destroy ----------------

@pytest.mark.slow
def test_apply_outputs_then_edited_cloud_init_replans_with_no_change(terraform_bin: Terraform, tf_stack: Path) -> None:
    with TerraformRun(tf_stack, sample_variables(tf_stack, region="eu-frankfurt-1"), terraform=terraform_bin) as run:
        assert run.plan("tfplan").ok
        streamed: list[str] = []
        a = run.apply("tfplan", on_line=streamed.append)
        assert a.ok, errors_text(a)
        assert "Apply complete! Resources: 8 added, 0 changed, 0 destroyed." in streamed
        outs = run.output()
        state = run.show()
        inst = next(r for r in state["values"]["root_module"]["resources"] if r["address"] == "oci_core_instance.server")["values"]
        reserved = next(r for r in state["values"]["root_module"]["resources"] if r["address"] == "oci_core_public_ip.server")["values"]
        # The address is the reserved IP's; the instance itself has no (ephemeral) public IP.
        assert ipaddress.ip_address(reserved["ip_address"]) in ipaddress.ip_network("203.0.113.0/24")
        assert inst["public_ip"] == "" and outs["public_ip"]["value"] == reserved["ip_address"]
        assert inst["id"].startswith("ocid1.instance.oc1.eu-frankfurt-1.")
        assert inst["availability_domain"] == "Uocm:EU-FRANKFURT-1-AD-1"
        secret = outs["LIVEKIT_API_SECRET"]
        assert secret["sensitive"] is True and re.fullmatch(r"[A-Za-z0-9]{48}", secret["value"])
        assert outs["LIVEKIT_API_KEY"]["sensitive"] is False

        with (tf_stack / "cloud-init.yaml").open("a", encoding="utf-8") as f:
            f.write("# edited after apply\n")
        assert run.plan("tfplan2").ok
        replan = resource_changes(run.show("tfplan2"))
        assert replan["oci_core_instance.server"] == ["no-op"]
        assert all(actions == ["no-op"] for actions in replan.values()), replan

        # The check can fail: without ignore_changes the same edit replaces the server.
        main = tf_stack / "main.tf"
        main.write_text(re.sub(r"\n  lifecycle \{\n    ignore_changes.*?\n  \}\n", "\n", main.read_text(encoding="utf-8"), count=1, flags=re.DOTALL))
        assert run.plan("tfplan3").ok
        plan3 = run.show("tfplan3")
        assert resource_changes(plan3)["oci_core_instance.server"] == ["delete", "create"]
        replace = next(c for c in plan3["resource_changes"] if c["address"] == "oci_core_instance.server")["change"]["replace_paths"]
        assert ["metadata", "user_data"] in replace

        d = run.destroy()
        assert d.ok, errors_text(d)
        assert "Destroy complete! Resources: 8 destroyed." in d.lines


@pytest.mark.slow
def test_capacity_fault_fails_apply_with_ocis_message_and_another_ad_succeeds(terraform_bin: Terraform, tf_stack: Path) -> None:
    faults = {"out_of_host_capacity": ["AD-1"]}
    values = sample_variables(tf_stack, region="eu-frankfurt-1")
    with TerraformRun(tf_stack, values, terraform=terraform_bin, faults=faults) as run:
        a = run.apply()
        assert not a.ok
        err = next(d for d in a.errors if "Out of host capacity" in d.summary)
        assert err.summary.startswith("500-InternalError, Out of host capacity.")
        assert err.address == "oci_core_instance.server"
        assert err.file == "main.tf"
        # What rm-apply's capacity check and the emulator's job log read: Terraform's own line.
        assert any(line.startswith("Error: 500-InternalError, Out of host capacity.") for line in a.lines), a.lines[-3:]
    with TerraformRun(tf_stack, values | {"availability_domain_number": "2"}, terraform=terraform_bin, faults=faults) as run:
        a = run.apply()
        assert a.ok, errors_text(a)


@pytest.mark.slow
def test_replacement_fault_shows_a_replace_in_the_plan(terraform_bin: Terraform, tf_stack: Path) -> None:
    values = sample_variables(tf_stack, region="eu-frankfurt-1")
    with TerraformRun(tf_stack, values, terraform=terraform_bin) as run:
        assert run.apply().ok
    with TerraformRun(tf_stack, values, terraform=terraform_bin, faults={"replace_instances": ["flowspace-server"]}) as run:
        assert run.plan("tfplan").ok
        plan = run.show("tfplan")
    changes = resource_changes(plan)
    assert changes["oci_core_instance.server"] == ["delete", "create"]
    # The reserved public IP only moves to the new instance's private IP (in place).
    assert {a: act for a, act in changes.items() if act != ["no-op"]} == {
        "oci_core_instance.server": ["delete", "create"], "oci_core_public_ip.server": ["update"]}
    inst = next(c for c in plan["resource_changes"] if c["address"] == "oci_core_instance.server")["change"]
    assert ["availability_domain"] in inst["replace_paths"]


@pytest.mark.slow
def test_alerts_variant_applies_and_its_alarm_watches_the_servers_vnic(terraform_bin: Terraform, tmp_path: Path) -> None:
    stack = generate_variant(tmp_path, VARIANTS["budget-and-traffic-alarm"])
    with TerraformRun(stack, sample_variables(stack, region="eu-frankfurt-1"), terraform=terraform_bin) as run:
        a = run.apply()
        assert a.ok, errors_text(a)
        resources = {r["address"]: r["values"] for r in run.show()["values"]["root_module"]["resources"]}
        again = run.plan(None)
    vnic = resources["data.oci_core_vnic_attachments.server"]["vnic_attachments"][0]
    assert vnic["instance_id"] == resources["oci_core_instance.server"]["id"]
    alarms = [v for a, v in resources.items() if a.startswith("oci_monitoring_alarm.")]
    assert alarms and all(f'resourceId = "{vnic["vnic_id"]}"' in v["query"] for v in alarms)
    assert resources["oci_core_subnet.public"]["dhcp_options_id"] == resources["oci_core_vcn.main"]["default_dhcp_options_id"]
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in again.lines


# ---------------- both Terraform lines ----------------

def _terraforms() -> list[str]:
    found = []
    try:
        found.append(find_terraform().path)
    except TerraformNotFound:
        pass
    on_path = shutil.which("terraform")
    if on_path and on_path not in found:
        found.append(on_path)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("path", _terraforms())
def test_double_works_with_each_terraform_found(path: str, tf_stack: Path) -> None:
    tf = Terraform(path, terraform_version(path))
    with TerraformRun(tf_stack, sample_variables(tf_stack), terraform=tf) as run:
        assert run.validate().ok
        assert run.apply().ok, tf.version
        again = run.plan(None)
        assert again.ok and "Plan: 0 to add, 0 to change, 0 to destroy." in again.lines, tf.version
        assert run.destroy().ok, tf.version


# ---------------- small parts ----------------

def test_find_terraform_order_and_the_message_without_one(tmp_path: Path) -> None:
    with pytest.raises(TerraformNotFound, match="make terraform"):
        find_terraform({"PATH": str(tmp_path)}, tools_dir=tmp_path)
    with pytest.raises(TerraformNotFound, match="FLOWSTACK_TERRAFORM=/no/such"):
        find_terraform({"FLOWSTACK_TERRAFORM": "/no/such"}, tools_dir=tmp_path)


def test_faults_file_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "faults.json"
    f.write_text('{"out_of_capacity": ["AD-1"]}')
    with pytest.raises(ValueError, match="out_of_capacity"):
        cloud.load_faults({cloud.FAULTS_ENV: str(f)})
    f.write_text('{"out_of_host_capacity": ["AD-2"]}')
    faults = cloud.load_faults({cloud.FAULTS_ENV: str(f)})
    assert faults.capacity_fails("Uocm:EU-FRANKFURT-1-AD-2") and not faults.capacity_fails("Uocm:EU-FRANKFURT-1-AD-1")


def test_image_listing_filters_like_the_provider() -> None:
    found = cloud.images("eu-frankfurt-1", "c", {"operating_system": "Canonical Ubuntu", "operating_system_version": "22.04",
                                                 "shape": "VM.Standard.A1.Flex", "sort_by": "TIMECREATED", "sort_order": "DESC"})
    assert [i["display_name"] for i in found] == ["Canonical-Ubuntu-22.04-Minimal-aarch64-2026.11.18-0",
                                             "Canonical-Ubuntu-22.04-aarch64-2026.11.04-0"]  # newest first
    every = cloud.images("eu-frankfurt-1", "c", {"shape": "VM.Standard.A1.Flex"})
    assert any("Minimal" in i["display_name"] for i in every)
    assert cloud.apply_filters(every, [{"name": "display_name", "values": ["Minimal"], "regex": False}]) == []
