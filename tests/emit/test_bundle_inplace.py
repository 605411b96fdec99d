"""Issue 15: a config change reaches the running server in place, with real Terraform 1.5.7.

Replaced: OCI itself (unreachable here) by the provider double (generator/tfdouble), which
treats instance metadata as oracle/oci v7.19.0 does: a change of metadata.user_data or
metadata.ssh_authorized_keys forces a new instance (the provider's CustomizeDiff), every other
key (the config bundle, flowstack_bundle) updates in place. Terraform, the generated stacks,
templatefile/sha256/jsonencode/base64gzip are real: the bundle checked here is byte for byte
what Terraform wrote into the state. The agent is the script the server gets.
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_support import load_agent, pack, unpack
from tfdouble_support import REFERENCE, errors_text, generate, resource_changes, sample_variables
from variants import PINNED_IMAGE, bumped_image

from generator.checks.fit import bundle_size
from generator.checks.run import read_stack_dir
from generator.checks.stack import Stack
from generator.core.contract import BUNDLE_METADATA_KEY
from generator.emit.agent import agent_settings
from generator.emit.bundle import bundle_digest
from generator.tfdouble.runner import Terraform, TerraformRun

NEW_IMAGE = bumped_image()  # a version bump (the config's image tag)
NEW_HOST = "chat.flow-coder.com"


def _stack(tmp: Path, name: str, image: str | None = None, host: str | None = None) -> Path:
    data = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    if image:
        data["livekit"]["image"] = image
    if host:
        data["domains"]["socket_host"] = host
    config = tmp / f"{name}.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return generate(config, tmp / name)


def _replace_files(work: Path, new: Path) -> None:
    """A new zip replaces the stack's files, as Resource Manager does; the state stays."""
    shutil.rmtree(work / "bundle")
    for p in new.rglob("*"):
        if p.is_file() and p.name != ".flowstack-output":
            target = work / p.relative_to(new)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)


def _instance(state: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in state["values"]["root_module"]["resources"] if r["address"] == "oci_core_instance.server")["values"]


def _files(bundle: dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["content"] for f in bundle["files"]}


@pytest.mark.slow
def test_livekit_bump_and_host_change_update_the_instance_in_place(terraform_bin: Terraform, tmp_path: Path) -> None:
    work = Path(shutil.copytree(_stack(tmp_path, "old"), tmp_path / "work"))
    with TerraformRun(work, sample_variables(work), terraform=terraform_bin) as run:
        a = run.apply()
        assert a.ok, errors_text(a)
        before = _instance(run.show())
        old = unpack(before["metadata"][BUNDLE_METADATA_KEY])
        assert f"image: {PINNED_IMAGE}" in _files(old)["/opt/flowstack/docker-compose.yml"]

        _replace_files(work, _stack(tmp_path, "new", image=NEW_IMAGE, host=NEW_HOST))
        assert run.plan("tfplan").ok
        plan = run.show("tfplan")
        changes = resource_changes(plan)
        # The instance is updated, not replaced; nothing else changes but the reserved IP's
        # look-up: Terraform defers reading the VNIC's private IP (a data source that depends on
        # the instance, which has a pending change) to apply time, so the reserved IP shows as
        # "update" with only private_ip_id unknown. Its address and OCID stay (checked after apply).
        assert changes["oci_core_instance.server"] == ["update"]
        assert changes["oci_core_public_ip.server"] == ["update"], changes
        ip_change = next(c for c in plan["resource_changes"] if c["address"] == "oci_core_public_ip.server")["change"]
        assert ip_change["after_unknown"].get("private_ip_id") is True
        assert ip_change["after"]["ip_address"] == ip_change["before"]["ip_address"]
        assert not ip_change.get("replace_paths")
        others = {"oci_core_instance.server", "oci_core_public_ip.server"}
        assert all(v == ["no-op"] for k, v in changes.items() if k not in others), changes
        ip_before = next(r for r in run.show()["values"]["root_module"]["resources"] if r["address"] == "oci_core_public_ip.server")["values"]
        change = next(c for c in plan["resource_changes"] if c["address"] == "oci_core_instance.server")["change"]
        assert not change.get("replace_paths")
        # user_data (boot-only) changed too (its DNS wait names the host), but lifecycle ignores it.
        assert change["after"]["metadata"]["user_data"] == change["before"]["metadata"]["user_data"]

        a = run.apply("tfplan")
        assert a.ok, errors_text(a)
        # One change: at apply time the look-up gives the same private IP, so the reserved IP is not touched.
        assert any("0 added, 1 changed, 0 destroyed" in line for line in a.lines), a.lines[-5:]
        after = _instance(run.show())
        assert after["id"] == before["id"] and after["public_ip"] == before["public_ip"]
        ip_after = next(r for r in run.show()["values"]["root_module"]["resources"] if r["address"] == "oci_core_public_ip.server")["values"]
        assert (ip_after["id"], ip_after["ip_address"], ip_after["private_ip_id"]) == (ip_before["id"], ip_before["ip_address"], ip_before["private_ip_id"])
        new = unpack(after["metadata"][BUNDLE_METADATA_KEY])
        files = _files(new)
        assert f"image: {NEW_IMAGE}" in files["/opt/flowstack/docker-compose.yml"]
        assert f"{NEW_HOST} {{" in files["/opt/flowstack/Caddyfile"]
        assert new["digest"] != old["digest"]
        changed = {p for p, text in files.items() if _files(old).get(p) != text}
        assert changed == {"/opt/flowstack/docker-compose.yml", "/opt/flowstack/Caddyfile"}

        # The failing case: without lifecycle's ignore_changes the same change replaces the server,
        # because user_data changed (the provider forces a new instance on it).
        main = work / "main.tf"
        main.write_text(re.sub(r"\n  lifecycle \{\n    ignore_changes.*?\n  \}\n", "\n", main.read_text(encoding="utf-8"), count=1, flags=re.DOTALL))
        _replace_files(work, _stack(tmp_path, "newer", image=NEW_IMAGE, host="other.flow-coder.com"))
        main.write_text(re.sub(r"\n  lifecycle \{\n    ignore_changes.*?\n  \}\n", "\n", main.read_text(encoding="utf-8"), count=1, flags=re.DOTALL))
        assert run.plan("tfplan2").ok
        plan2 = run.show("tfplan2")
        assert resource_changes(plan2)["oci_core_instance.server"] == ["delete", "create"]
        replace = next(c for c in plan2["resource_changes"] if c["address"] == "oci_core_instance.server")["change"]["replace_paths"]
        assert ["metadata", "user_data"] in replace


@pytest.mark.slow
def test_agent_accepts_the_bundle_terraform_wrote_and_refuses_a_tampered_one(terraform_bin: Terraform, tmp_path: Path) -> None:
    work = Path(shutil.copytree(_stack(tmp_path, "ref"), tmp_path / "work"))
    with TerraformRun(work, sample_variables(work) | {"server_apply_at": "03:30"}, terraform=terraform_bin) as run:
        a = run.apply()
        assert a.ok, errors_text(a)
        value = _instance(run.show())["metadata"][BUNDLE_METADATA_KEY]
    agent, settings = load_agent(tmp_path), agent_settings()
    bundle = agent.decode(value)
    checked = agent.check(bundle, settings)
    assert bundle["format"] == 1 and bundle["apply_at"] == "03:30"
    # Terraform's sha256() and digest agree with Python's (generator/emit/bundle.py, the agent).
    assert bundle["digest"] == bundle_digest(bundle["files"])
    livekit = checked["/opt/flowstack/livekit.yaml"]
    assert livekit[1]["mode"] == "0600" and livekit[1]["service"] == "livekit"
    assert re.search(rb"'APIFlowspace': '[A-Za-z0-9]{48}'", livekit[0])  # random_password's secret, filled in
    # The fit check's estimate (placeholders as 64 characters) is close to, and not below, the real size.
    estimate = bundle_size(Stack(read_stack_dir(work)))
    assert estimate is not None and len(value) <= estimate <= len(value) * 1.1

    tampered = [("content", lambda d: d["files"][0].update(content=d["files"][0]["content"] + "# extra\n"), "does not match its sha256"),
                ("digest", lambda d: d["files"][1].update(mode="0644"), "digest does not match"),
                ("path", lambda d: d["files"][0].update(path="/etc/passwd"), "is not a path the agent may write"),
                ("format", lambda d: d.update(format=2), "unknown bundle format")]
    for name, edit, message in tampered:
        doc = copy.deepcopy(bundle)
        edit(doc)
        with pytest.raises(agent.Refused, match=message):
            agent.check(agent.decode(pack(doc)), settings)
        assert name
    with pytest.raises(agent.Refused, match="does not decode"):
        agent.decode(value[:-8] + "AAAAAAAA")
