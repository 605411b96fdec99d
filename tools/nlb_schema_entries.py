"""Add the load balancer and quota types of a multi-node stack (issue 25) to the two schema
files: the provider double's (``generator/tfdouble/data/schema.json``, Terraform's JSON
format) and validate's snapshot (``generator/data/provider_schema.json``, format of
``tools/schema_snapshot.py``).

Why by hand: both files are built from artefacts that are not here (the v7.19.0 provider
binary for the double, 16 minutes of build; the cdktf jsii wheel for the snapshot). These
entries are transcribed from reading the provider's schema literals in
oracle/terraform-provider-oci, internal/service/network_load_balancer/
network_load_balancer_{network_load_balancer,backend_set,backend,listener}_resource.go
(stored versions of commits 16dbaab5, 104774db, 0559e758, read 2026-12-07; NOT the v7.19.0
tag) and, for oci_limits_quota, from the provider's documented arguments. They are PARTIAL:
attributes newer than those versions (e.g. is_symmetric_hash_enabled, security_attributes,
listener idle timeouts) are missing, so a config using them would be refused by the double.
Every attribute flowstack's scale.tf sets or reads is present. Regenerate both files from
the real artefacts (tools/tfdouble_schema.py, tools/schema_from_jsii.py) when they are built;
the `source` notes written here say the entries are transcribed.

    .venv/bin/python tools/nlb_schema_entries.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOUBLE = ROOT / "generator/tfdouble/data/schema.json"
SNAPSHOT = ROOT / "generator/data/provider_schema.json"
FIXTURES = [ROOT / "tests/fixtures/schema/terraform_providers_schema.json"]
NOTE = ("transcribed 2026-12-07 from the provider's schema literals (network_load_balancer/*_resource.go at stored "
        "commits 16dbaab5/104774db/0559e758, not tag v7.19.0; oci_limits_quota from its documented arguments): partial, "
        "see tools/nlb_schema_entries.py")

S, N, B = "string", "number", "bool"
MAP = ["map", "string"]
# flags: R required, O optional, OC optional+computed, C computed. (type, flags[, force_new])
Attr = tuple[Any, ...]
TYPES: dict[str, dict[str, Any]] = {
    "oci_network_load_balancer_network_load_balancer": {
        "attrs": {
            "compartment_id": (S, "R"), "display_name": (S, "R"), "subnet_id": (S, "R", True),
            "defined_tags": (MAP, "OC"), "freeform_tags": (MAP, "OC"), "is_preserve_source_destination": (B, "OC"),
            "is_private": (B, "OC", True), "network_security_group_ids": (["set", S], "O"), "nlb_ip_version": (S, "OC"),
            "ip_addresses": (["list", ["object", {"ip_address": S, "ip_version": S, "is_public": B,
                                                  "reserved_ip": ["list", ["object", {"id": S}]]}]], "C"),
            "lifecycle_details": (S, "C"), "state": (S, "C"), "system_tags": (MAP, "C"), "time_created": (S, "C"),
            "time_updated": (S, "C"),
        },
        "blocks": {"reserved_ips": ("list", 0, None, {"id": (S, "OC", True)}, True)},
    },
    "oci_network_load_balancer_backend_set": {
        "attrs": {
            "name": (S, "R", True), "network_load_balancer_id": (S, "R", True), "policy": (S, "R"),
            "are_operationally_active_backends_preferred": (B, "OC"), "ip_version": (S, "OC"), "is_fail_open": (B, "OC"),
            "is_instant_failover_enabled": (B, "OC"), "is_instant_failover_tcp_reset_enabled": (B, "OC"),
            "is_preserve_source": (B, "OC"),
            "backends": (["list", ["object", {"port": N, "ip_address": S, "is_backup": B, "is_drain": B, "is_offline": B,
                                              "name": S, "target_id": S, "weight": N}]], "C"),
        },
        "blocks": {"health_checker": ("list", 1, 1, {
            "protocol": (S, "R"), "interval_in_millis": (N, "OC"), "port": (N, "OC"), "request_data": (S, "OC"),
            "response_body_regex": (S, "OC"), "response_data": (S, "OC"), "retries": (N, "OC"), "return_code": (N, "OC"),
            "timeout_in_millis": (N, "OC"), "url_path": (S, "OC"),
        }, False)},
    },
    "oci_network_load_balancer_backend": {
        "attrs": {
            "backend_set_name": (S, "R", True), "network_load_balancer_id": (S, "R", True), "port": (N, "R", True),
            "ip_address": (S, "OC", True), "is_backup": (B, "OC"), "is_drain": (B, "OC"), "is_offline": (B, "OC"),
            "name": (S, "OC", True), "target_id": (S, "OC", True), "weight": (N, "OC"),
        },
        "blocks": {},
    },
    "oci_network_load_balancer_listener": {
        "attrs": {
            "default_backend_set_name": (S, "R"), "name": (S, "R", True), "network_load_balancer_id": (S, "R", True),
            "port": (N, "R"), "protocol": (S, "R"), "ip_version": (S, "OC"),
        },
        "blocks": {},
    },
    "oci_limits_quota": {
        "attrs": {
            "compartment_id": (S, "R", True), "description": (S, "R"), "name": (S, "R", True), "statements": (["list", S], "R"),
            "defined_tags": (MAP, "OC"), "freeform_tags": (MAP, "OC"), "is_lock_override": (B, "O"),
            "state": (S, "C"), "time_created": (S, "C"),
        },
        "blocks": {},
    },
}


def _tf_attr(t: Any, flags: str) -> dict[str, Any]:
    out: dict[str, Any] = {"description_kind": "plain", "type": t}
    if flags == "R":
        out["required"] = True
    if flags in ("O", "OC"):
        out["optional"] = True
    if flags in ("OC", "C"):
        out["computed"] = True
    return dict(sorted(out.items()))


def _tf_block(attrs: dict[str, Attr], blocks: dict[str, Any], top: bool) -> dict[str, Any]:
    a = {name: _tf_attr(spec[0], spec[1]) for name, spec in attrs.items()}
    bt: dict[str, Any] = {}
    for name, (nesting, lo, hi, sub, _fn) in blocks.items():
        nb: dict[str, Any] = {"block": _tf_block(sub, {}, False), "nesting_mode": nesting}
        if lo:
            nb["min_items"] = lo
        if hi:
            nb["max_items"] = hi
        bt[name] = nb
    if top:  # what SDKv2 adds to every resource: id, and the timeouts block (tfresource.DefaultTimeout)
        a["id"] = _tf_attr(S, "OC")
        bt["timeouts"] = {"block": {"attributes": {k: _tf_attr(S, "O") for k in ("create", "delete", "update")},
                                    "description_kind": "plain"}, "nesting_mode": "single"}
    block: dict[str, Any] = {"attributes": dict(sorted(a.items())), "description_kind": "plain"}
    if bt:
        block["block_types"] = dict(sorted(bt.items()))
    return block


def _kind(t: Any) -> tuple[str, str]:
    if isinstance(t, str):
        return "scalar", t
    if t[0] in ("list", "set"):
        return ("list", t[1]) if isinstance(t[1], str) else ("list", "object")
    return ("map", t[1]) if t[0] == "map" else ("object", "object")


def _snap_block(attrs: dict[str, Attr], blocks: dict[str, Any], top: bool) -> dict[str, Any]:
    a = {}
    for name, spec in attrs.items():
        kind, typ = _kind(spec[0])
        a[name] = {"required": spec[1] == "R", "optional": spec[1] in ("O", "OC"), "computed": spec[1] in ("OC", "C"), "kind": kind, "type": typ}
    b = {name: {"min_items": lo, "max_items": hi, "block": _snap_block(sub, {}, False)} for name, (_n, lo, hi, sub, _f) in blocks.items()}
    if top:
        a["id"] = {"required": False, "optional": True, "computed": True, "kind": "scalar", "type": "string"}
        b["timeouts"] = {"min_items": 0, "max_items": 1, "block": {"attributes": {
            k: {"required": False, "optional": True, "computed": False, "kind": "scalar", "type": "string"} for k in ("create", "delete", "update")}, "blocks": {}}}
    return {"attributes": dict(sorted(a.items())), "blocks": dict(sorted(b.items()))}


def _force_new(spec: dict[str, Any]) -> list[str]:
    out = [name for name, a in spec["attrs"].items() if len(a) > 2 and a[2]]
    for name, (_n, _lo, _hi, sub, fn) in spec["blocks"].items():
        if fn:
            out.append(name)
        out += [f"{name}.{k}" for k, a in sub.items() if len(a) > 2 and a[2]]
    return sorted(out)


def main() -> None:
    double = json.loads(DOUBLE.read_text("utf-8"))
    oci = double["providers"]["registry.terraform.io/oracle/oci"]
    snap = json.loads(SNAPSHOT.read_text("utf-8"))
    for name, spec in TYPES.items():
        oci["resource_schemas"][name] = {"block": _tf_block(spec["attrs"], spec["blocks"], True), "version": 0}
        oci["force_new"][name] = _force_new(spec)
        snap["resources"][name] = {"provider": "oracle/oci", "block": _snap_block(spec["attrs"], spec["blocks"], True)}
        for fixture in FIXTURES:  # the tools' own test input holds every emitted type
            doc = json.loads(fixture.read_text("utf-8"))
            doc["provider_schemas"]["registry.terraform.io/oracle/oci"]["resource_schemas"][name] = oci["resource_schemas"][name]
            fixture.write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    oci["source"]["transcribed"] = NOTE + ": " + ", ".join(TYPES)
    next(p for p in snap["providers"] if p["provider"] == "oracle/oci")["transcribed"] = NOTE + ": " + ", ".join(TYPES)
    oci["resource_schemas"] = dict(sorted(oci["resource_schemas"].items()))
    oci["force_new"] = dict(sorted(oci["force_new"].items()))
    snap["resources"] = dict(sorted(snap["resources"].items()))
    DOUBLE.write_text(json.dumps(double, indent=1, sort_keys=True) + "\n", "utf-8")
    SNAPSHOT.write_text(json.dumps(snap, indent=1, sort_keys=False) + "\n", "utf-8")


if __name__ == "__main__":
    main()
