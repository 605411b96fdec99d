"""Issue 15 item 1: a stable address. The server's public IP is a reserved one (on by default,
`network.reserved_ip`), assigned to the instance's primary private IP, so it survives replacing
the instance; `flowstack cost` shows its dated price (unknown today, UNVERIFIED).

Replaced: OCI itself (unreachable here). Terraform 1.5.7 is real; the provider is the offline
double (generator/tfdouble), which serves oracle/oci 7.19.0's schema for oci_core_public_ip and
oci_core_private_ips and behaves as the provider's source does: `private_ip_id` is updated in
place (UpdatePublicIp), only `lifetime` and `public_ip_pool_id` force a new public IP, an
instance launched with `assign_public_ip = "false"` has no ephemeral address, and a replaced
instance is a new launch (new OCID, new VNIC, new ephemeral address).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from tfdouble_support import errors_text, generate_variant, resource_changes, sample_variables
from variants import REFERENCE, make_config, merge

from generator.checks.run import validate_files
from generator.cli import cli
from generator.core.prices import OptionalPrice, price_book
from generator.cost import estimate as cost_estimate
from generator.emit.render import render_stack
from generator.tfdouble.behaviour import Cloud
from generator.tfdouble.cloud import Faults
from generator.tfdouble.runner import Terraform, TerraformRun
from generator.tfdouble.schema import load_schemas

EPHEMERAL = {"network": {"reserved_ip": False}}
AUTO = {"domains": {"mode": "auto", "socket_host": None, "livekit_host": None}}
TEST_NET_3 = ipaddress.ip_network("203.0.113.0/24")
SERVER = "oci_core_instance.server"
RESERVED = "oci_core_public_ip.server"


def _resources(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["address"]: r["values"] for r in state["values"]["root_module"]["resources"]}


def address_problems(plan: dict[str, Any], before: str, after: str) -> list[str]:
    """The safety property of a replacement: what would move the server's address.

    ``plan`` is `terraform show -json` of a plan that replaces the instance; ``before`` and
    ``after`` are the `public_ip` output before and after applying it.
    """
    problems = []
    for c in plan["resource_changes"]:
        if c["type"] == "oci_core_public_ip" and set(c["change"]["actions"]) - {"update", "no-op"}:
            problems.append(f"{c['address']} is {'/'.join(c['change']['actions'])}d, not updated in place")
    if before != after:
        problems.append(f"public_ip changed from {before} to {after}")
    return problems


def _replace_instance(stack: Path, terraform: Terraform) -> dict[str, Any]:
    """Apply the stack, then plan and apply a replacement of the instance; what each step saw."""
    with TerraformRun(stack, sample_variables(stack, region="eu-frankfurt-1"), terraform=terraform) as run:
        first = run.apply()
        assert first.ok, errors_text(first)
        seen: dict[str, Any] = {"outputs": run.output(), "state": _resources(run.show())}
        planned = run.plan("replace.tfplan", replace=[SERVER])
        assert planned.ok, errors_text(planned)
        seen["plan"] = run.show("replace.tfplan")
        second = run.apply("replace.tfplan")
        assert second.ok, errors_text(second)
        seen["outputs_after"], seen["state_after"] = run.output(), _resources(run.show())
        again = run.plan("again.tfplan")
        assert again.ok, errors_text(again)
        seen["replan"] = resource_changes(run.show("again.tfplan"))
    return seen


# ---------------- Terraform + the provider double ----------------

@pytest.mark.slow
def test_replacing_the_instance_keeps_the_reserved_address(terraform_bin: Terraform, tmp_path: Path) -> None:
    seen = _replace_instance(generate_variant(tmp_path, {}), terraform_bin)
    reserved, server = seen["state"][RESERVED], seen["state"][SERVER]
    # (b) The output is the reserved address; the instance has no ephemeral IP of its own.
    assert reserved["lifetime"] == "RESERVED" and ipaddress.ip_address(reserved["ip_address"]) in TEST_NET_3
    assert seen["outputs"]["public_ip"]["value"] == reserved["ip_address"] and server["public_ip"] == ""
    assert seen["outputs"]["ssh_command"]["value"] == f"ssh ubuntu@{reserved['ip_address']}"
    assert all(r.endswith(f" A {reserved['ip_address']}") for r in seen["outputs"]["dns_records"]["value"])
    assert reserved["freeform_tags"] == server["freeform_tags"] and reserved["freeform_tags"]
    # It sits on the instance's primary private IP, found through the VNIC look-ups.
    private = seen["state"]["data.oci_core_private_ips.server"]["private_ips"]
    assert [p["is_primary"] for p in private] == [True] and private[0]["ip_address"] == server["private_ip"]
    assert reserved["private_ip_id"] == private[0]["id"] == reserved["assigned_entity_id"]

    # (a) The plan replaces the instance and updates the reserved IP in place, address unchanged.
    changes = resource_changes(seen["plan"])
    assert changes[SERVER] == ["delete", "create"] and changes[RESERVED] == ["update"]
    change = next(c for c in seen["plan"]["resource_changes"] if c["address"] == RESERVED)["change"]
    assert change["before"]["ip_address"] == change["after"]["ip_address"] == reserved["ip_address"]
    assert change["after_unknown"].get("private_ip_id") is True and not change.get("replace_paths")
    assert address_problems(seen["plan"], seen["outputs"]["public_ip"]["value"], seen["outputs_after"]["public_ip"]["value"]) == []

    # After the apply: a new instance, the same address, now on the new primary private IP.
    new_reserved, new_server = seen["state_after"][RESERVED], seen["state_after"][SERVER]
    assert new_server["id"] != server["id"] and new_reserved["id"] == reserved["id"]
    assert new_reserved["ip_address"] == reserved["ip_address"] == seen["outputs_after"]["public_ip"]["value"]
    new_private = seen["state_after"]["data.oci_core_private_ips.server"]["private_ips"][0]
    assert new_reserved["private_ip_id"] == new_private["id"] != reserved["private_ip_id"]
    assert all(a == ["no-op"] for a in seen["replan"].values()), seen["replan"]


@pytest.mark.slow
def test_the_check_fails_for_an_ephemeral_address(terraform_bin: Terraform, tmp_path: Path) -> None:
    """(c) The same replacement with `network.reserved_ip: false`: the address moves, and the
    property above says so (so it can fail)."""
    seen = _replace_instance(generate_variant(tmp_path, EPHEMERAL), terraform_bin)
    assert RESERVED not in seen["state"]
    before, after = seen["outputs"]["public_ip"]["value"], seen["outputs_after"]["public_ip"]["value"]
    assert before == seen["state"][SERVER]["public_ip"] and ipaddress.ip_address(before) in TEST_NET_3
    assert after == seen["state_after"][SERVER]["public_ip"] and ipaddress.ip_address(after) in TEST_NET_3
    assert address_problems(seen["plan"], before, after) == [f"public_ip changed from {before} to {after}"]


@pytest.mark.slow
def test_the_check_fails_when_the_reserved_ip_is_recreated(terraform_bin: Terraform, tmp_path: Path) -> None:
    """(c) A hand-edited stack whose reserved IP must be recreated (its `lifetime` is ForceNew):
    the plan replaces it, and the property says so."""
    stack = generate_variant(tmp_path, {})
    with TerraformRun(stack, sample_variables(stack, region="eu-frankfurt-1"), terraform=terraform_bin) as run:
        assert run.apply().ok
        main = stack / "main.tf"
        main.write_text(main.read_text(encoding="utf-8").replace('lifetime       = "RESERVED"', 'lifetime       = "EPHEMERAL"'),
                        encoding="utf-8")
        assert run.plan("edited.tfplan").ok
        plan = run.show("edited.tfplan")
    assert resource_changes(plan)[RESERVED] == ["delete", "create"]
    assert address_problems(plan, "x", "x") == [f"{RESERVED} is delete/created, not updated in place"]


@pytest.mark.slow
def test_auto_domain_names_follow_the_reserved_address(terraform_bin: Terraform, tmp_path: Path) -> None:
    stack = generate_variant(tmp_path, AUTO)
    with TerraformRun(stack, sample_variables(stack, region="eu-frankfurt-1"), terraform=terraform_bin) as run:
        assert run.apply().ok
        outputs, state = run.output(), _resources(run.show())
    label = state[RESERVED]["ip_address"].replace(".", "-")
    assert outputs["public_ip"]["value"] == state[RESERVED]["ip_address"]
    assert outputs["NEXT_PUBLIC_SOCKET_URL"]["value"] == f"https://socket.{label}.sslip.io"
    assert all(f".{label}.sslip.io" in h for h in outputs["host_names"]["value"])


def test_double_updates_private_ip_id_in_place_and_replaces_on_lifetime() -> None:
    """The double's replacement rules for oci_core_public_ip are the provider's ForceNew facts."""
    cloud = Cloud(load_schemas()["oci"], "eu-frankfurt-1", Faults())
    prior = cloud.create("oci_core_public_ip", cloud.plan("oci_core_public_ip", None, {
        "compartment_id": "ocid1.compartment.oc1..c", "lifetime": "RESERVED", "private_ip_id": "ocid1.privateip.oc1..a"})[0])
    moved, replace = cloud.plan("oci_core_public_ip", prior, {**prior, "private_ip_id": "ocid1.privateip.oc1..b"})
    assert replace == [] and moved["ip_address"] == prior["ip_address"]
    after = cloud.update("oci_core_public_ip", moved)
    assert after["ip_address"] == prior["ip_address"] and after["assigned_entity_id"] == "ocid1.privateip.oc1..b"
    assert after["state"] == "ASSIGNED" and prior["scope"] == "REGION"
    unassigned = cloud.update("oci_core_public_ip", {**moved, "private_ip_id": None})
    assert unassigned["state"] == "AVAILABLE" and unassigned["ip_address"] == prior["ip_address"]
    _, replace = cloud.plan("oci_core_public_ip", prior, {**prior, "lifetime": "EPHEMERAL"})
    assert replace == [["lifetime"]]


# ---------------- the rendered stack ----------------

def _files(changes: dict[str, Any]) -> dict[str, str]:
    return {k: v.decode() for k, v in render_stack(make_config(changes)).items()}


def test_both_variants_name_one_address_everywhere() -> None:
    reserved, ephemeral = _files({}), _files(EPHEMERAL)
    assert 'assign_public_ip = false' in reserved["main.tf"] and 'lifetime       = "RESERVED"' in reserved["main.tf"]
    assert "oci_core_instance.server.public_ip" not in "".join(reserved.values())
    assert reserved["outputs.tf"].count("oci_core_public_ip.server.ip_address") == 4  # public_ip, ssh, 2 DNS records
    assert 'assign_public_ip = true' in ephemeral["main.tf"]
    assert "oci_core_public_ip" not in "".join(ephemeral.values()) and "oci_core_private_ips" not in ephemeral["main.tf"]
    assert ephemeral["outputs.tf"].count("oci_core_instance.server.public_ip") == 4
    auto = _files(AUTO)["outputs.tf"]
    assert 'replace(oci_core_public_ip.server.ip_address, ".", "-")' in auto and "oci_core_instance.server.public_ip" not in auto


@pytest.mark.parametrize("changes", [{}, EPHEMERAL], ids=["reserved", "ephemeral"])
def test_both_variants_pass_the_checks(changes: dict[str, Any]) -> None:
    config = make_config(changes)
    report = validate_files(render_stack(config), config)
    assert report.ok, report.summary()
    (notes,) = [r for r in report.results if r.check == "deploy notes"]
    ip_notes = [p for p in notes.problems if p.startswith("reserved public IP")]
    # The unknown price is said before deploying, and only when the stack reserves an address.
    assert len(ip_notes) == (1 if config.network.reserved_ip else 0)
    assert all("no price known as of 2026-12-02" in p and "unverified" in p for p in ip_notes)


# ---------------- cost ----------------

def _cost(tmp_path: Path, changes: dict[str, Any], *args: str) -> str:
    config = tmp_path / "stack.yaml"
    config.write_text(yaml.safe_dump(merge(yaml.safe_load(REFERENCE.read_text(encoding="utf-8")), changes)), encoding="utf-8")
    result = CliRunner().invoke(cli, ["cost", str(config), "--date", "2026-12-02", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_cost_prints_the_reserved_ip_with_its_mark(tmp_path: Path) -> None:
    """(d) Unknown price: said, dated, UNVERIFIED, and in no total; the limit is dated data too."""
    out = _cost(tmp_path, {})
    assert "\nReserved public IP (network.reserved_ip: true, the stable address)\n" in out
    assert "  price                unknown: no price found as of 2026-12-02; UNVERIFIED, not in the totals above\n" in out
    assert "  limit                50 per region (verified); Always Free tenancies: not stated (unverified)\n" in out
    assert re.search(r"\n  reserved public IP +unknown +as of 2026-12-02, UNVERIFIED\n", out)
    assert "Oracle total               $0.00/month" in out
    data = json.loads(_cost(tmp_path, {}, "--json"))["reserved_ip"]
    assert data["price"]["usd"] is None and data["price"]["verified"] is False and data["in_totals"] is False
    assert data["limit_per_region"]["max"] == 50 and data["always_free_limit"]["verified"] is False
    # An ephemeral address has no reserved-IP line at all.
    assert "Reserved public IP" not in _cost(tmp_path, EPHEMERAL)
    assert json.loads(_cost(tmp_path, EPHEMERAL, "--json"))["reserved_ip"] is None


def test_a_known_price_is_added_to_the_totals_with_its_mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once prices.yaml has a price, cost prices the month and adds it (shown with a made-up
    price: the data file has none)."""
    book = price_book()
    priced = dataclasses.replace(book, reserved_ip=OptionalPrice("reserved public IP", Decimal("0.005"), "address-hour",
                                                                 book.reserved_ip.as_of, "test price", True))
    monkeypatch.setattr(cost_estimate, "price_book", lambda: priced)
    out = _cost(tmp_path, {})
    assert "  price                $0.005/address-hour x 730 h = $3.65/month (verified, as of 2026-12-02; in the totals above)\n" in out
    assert "Oracle total               $3.65/month" in out
    without = dataclasses.replace(priced, reserved_ip=dataclasses.replace(priced.reserved_ip, verified=False))
    monkeypatch.setattr(cost_estimate, "price_book", lambda: without)
    assert "(UNVERIFIED, as of 2026-12-02; in the totals above)" in _cost(tmp_path, {})
    assert "Oracle total               $0.00/month" in _cost(tmp_path, EPHEMERAL)
