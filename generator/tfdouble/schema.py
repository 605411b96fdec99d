"""The provider schemas the double serves, read from ``data/schema.json``.

The file holds, per provider, the schema in the format of ``terraform providers schema
-json`` (``block`` with ``attributes`` whose ``type`` is a cty type in JSON, and
``block_types`` with ``nesting_mode``/``min_items``/``max_items``), trimmed to the types
flowstack's stacks use, plus ``force_new``: the attribute paths whose change makes the
real provider replace the resource (not part of Terraform's schema JSON; read from the
provider's source by ``tools/tfdouble_schema.py``). How and when each provider's part was
made is in its ``source`` entry.

Example::

    >>> s = load_schemas()["oci"]
    >>> s.resources["oci_core_instance"]["block"]["attributes"]["availability_domain"]["required"]
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tf.gen import tfplugin_pb2 as pb

DATA_DIR = Path(__file__).resolve().parent / "data"
SCHEMA_FILE = DATA_DIR / "schema.json"

# Short provider names (the executable is terraform-provider-<short>) to registry sources.
PROVIDERS: dict[str, str] = {
    "oci": "registry.terraform.io/oracle/oci",
    "random": "registry.terraform.io/hashicorp/random",
}

_NESTING = {
    "single": pb.Schema.NestedBlock.NestingMode.SINGLE,
    "list": pb.Schema.NestedBlock.NestingMode.LIST,
    "set": pb.Schema.NestedBlock.NestingMode.SET,
    "map": pb.Schema.NestedBlock.NestingMode.MAP,
    "group": pb.Schema.NestedBlock.NestingMode.GROUP,
}


@dataclass(frozen=True)
class ProviderSchema:
    """One provider's served schema (JSON form) and its replacement rules."""

    short: str
    source: dict[str, Any]
    provider: dict[str, Any]
    resources: dict[str, Any]
    data_sources: dict[str, Any]
    force_new: dict[str, list[str]]


def load_schemas(path: Path = SCHEMA_FILE) -> dict[str, ProviderSchema]:
    """Every provider in the data file, by short name (``oci``, ``random``).

    Example::

        >>> sorted(load_schemas())
        ['oci', 'random']
    """
    doc = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, ProviderSchema] = {}
    for short, address in PROVIDERS.items():
        p = doc["providers"][address]
        out[short] = ProviderSchema(
            short=short,
            source=p["source"],
            provider=p["provider"],
            resources=p["resource_schemas"],
            data_sources=p["data_source_schemas"],
            force_new=p.get("force_new", {}),
        )
    return out


def block_to_pb(block: dict[str, Any]) -> pb.Schema.Block:
    """A schema-JSON block as the protobuf message Terraform reads.

    Example::

        >>> block_to_pb({"attributes": {"id": {"type": "string", "computed": True}}}).attributes[0].name
        'id'
    """
    attributes = [
        pb.Schema.Attribute(
            name=name,
            type=json.dumps(a["type"]).encode(),
            description=a.get("description", ""),
            required=bool(a.get("required")),
            optional=bool(a.get("optional")),
            computed=bool(a.get("computed")),
            sensitive=bool(a.get("sensitive")),
            deprecated=bool(a.get("deprecated")),
        )
        for name, a in sorted(block.get("attributes", {}).items())
    ]
    block_types = [
        pb.Schema.NestedBlock(
            type_name=name,
            block=block_to_pb(b["block"]),
            nesting=_NESTING[b["nesting_mode"]],
            min_items=b.get("min_items", 0),
            max_items=b.get("max_items", 0),
        )
        for name, b in sorted(block.get("block_types", {}).items())
    ]
    return pb.Schema.Block(attributes=attributes, block_types=block_types)


def schema_to_pb(schema: dict[str, Any]) -> pb.Schema:
    """A schema-JSON entry (``{"version": n, "block": ...}``) as a protobuf Schema.

    Example::

        >>> schema_to_pb({"version": 1, "block": {}}).version
        1
    """
    return pb.Schema(version=schema.get("version", 0), block=block_to_pb(schema.get("block", {})))
