"""Build ``generator/data/provider_schema.json`` from ``terraform providers schema -json``.

The alternative to ``tools/schema_from_jsii.py`` for a maintainer who has Terraform (or
OpenTofu) and can download providers. Run by hand, never at flowstack run time::

    mkdir /tmp/schema && cd /tmp/schema
    cat > main.tf <<'EOF'
    terraform {
      required_providers {
        oci    = { source = "oracle/oci", version = "7.19.0" }
        random = { source = "hashicorp/random", version = "3.7.2" }
      }
    }
    EOF
    terraform init
    terraform providers schema -json > schema.json
    cd -
    .venv/bin/python tools/schema_from_terraform.py /tmp/schema/schema.json \\
        --lock-file /tmp/schema/.terraform.lock.hcl
    # or: terraform providers schema -json | .venv/bin/python tools/schema_from_terraform.py - \\
    #         --version oracle/oci=7.19.0 --version hashicorp/random=3.7.2

Terraform's JSON does not say which provider release it describes, so the versions come
from the lock file ``terraform init`` wrote or from ``--version``; they must match
``PROVIDER_VERSIONS`` in ``tools/schema_snapshot.py`` (change that on purpose when moving
to a new provider release).

The input format: ``provider_schemas`` -> ``registry.terraform.io/<ns>/<name>`` ->
``resource_schemas`` / ``data_source_schemas`` -> type -> ``block`` -> ``attributes``
(``{name: {type, required, optional, computed}}``) and ``block_types`` (``{name:
{nesting_mode, min_items, max_items, block}}``). The output format is described in
``tools/schema_snapshot.py``; unlike the jsii source, ``computed`` is exact here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import schema_snapshot as snap  # noqa: E402  (a sibling script module, not a package)
from schema_snapshot import SchemaSourceError  # noqa: E402

_SCALARS = {"string": "string", "number": "number", "bool": "bool", "dynamic": "any"}


def convert_type(type_: Any, where: str) -> tuple[str, str]:
    """A Terraform type expression -> (kind, value type) of the snapshot format."""
    if isinstance(type_, str):
        if type_ not in _SCALARS:
            raise SchemaSourceError(f"{where}: unknown type {type_!r}")
        return "scalar", _SCALARS[type_]
    if isinstance(type_, list) and len(type_) == 2:
        outer, inner = type_
        if outer in ("list", "set", "map"):
            element = _SCALARS.get(inner, "any") if isinstance(inner, str) else "object"
            return ("map" if outer == "map" else "list"), element
        if outer == "object":
            return "object", "object"
        if outer == "tuple":
            return "list", "any"
    raise SchemaSourceError(f"{where}: unknown type {type_!r}")


def convert_attribute(name: str, attr: dict[str, Any], where: str) -> dict[str, Any]:
    if "nested_type" in attr:
        # Plugin-framework nested attributes are still attributes (written with `=`).
        mode = attr["nested_type"].get("nesting_mode", "single")
        kind = {"single": "object", "list": "list", "set": "list", "map": "map"}.get(mode)
        if kind is None:
            raise SchemaSourceError(f"{where}.{name}: unknown nesting mode {mode!r}")
        type_ = "object"
    else:
        kind, type_ = convert_type(attr.get("type"), f"{where}.{name}")
    return snap.attribute(
        required=bool(attr.get("required")),
        optional=bool(attr.get("optional")),
        computed=bool(attr.get("computed")),
        kind=kind,
        type_=type_,
    )


def convert_block(block: dict[str, Any], where: str) -> dict[str, Any]:
    attributes = {
        name: convert_attribute(name, attr, where) for name, attr in block.get("attributes", {}).items()
    }
    blocks: dict[str, Any] = {}
    for name, nested in block.get("block_types", {}).items():
        mode = nested.get("nesting_mode")
        min_items = int(nested.get("min_items", 0))
        # Terraform writes 0 (or nothing) for "no limit".
        max_items = int(nested.get("max_items", 0)) or None
        if mode in ("single", "group"):
            max_items = 1
        elif mode not in ("list", "set"):
            # `map` blocks take a label (`name "key" { }`); no type flowstack emits has one,
            # and the checker does not model labels, so fail loudly rather than guess.
            raise SchemaSourceError(f"{where}.{name}: nesting mode {mode!r} is not supported")
        blocks[name] = snap.nested(
            min_items=min_items,
            max_items=max_items,
            block=convert_block(nested.get("block", {}), f"{where}.{name}"),
        )
    return snap.block(attributes, blocks)


def find_provider(schemas: dict[str, Any], provider: str) -> dict[str, Any]:
    """Match ``registry.terraform.io/oracle/oci`` (or another registry host) by suffix."""
    matches = [key for key in schemas if key.lower().endswith("/" + provider)]
    if len(matches) != 1:
        raise SchemaSourceError(f"expected one provider schema for {provider}, found {matches or 'none'}")
    return schemas[matches[0]]


def versions_from_lock_file(path: Path) -> dict[str, str]:
    """Provider versions from a ``.terraform.lock.hcl`` (python-hcl2 keeps the quotes)."""
    import hcl2  # only needed for this option; tools run in the project's virtualenv

    doc = hcl2.loads(path.read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for entry in doc.get("provider", []):
        for address, body in entry.items():
            if address.startswith("__"):
                continue
            parts = address.strip('"').split("/")
            version = body.get("version")
            if len(parts) >= 2 and isinstance(version, str):
                found["/".join(parts[-2:]).lower()] = version.strip('"')
    return found


def build(
    document: dict[str, Any],
    versions: dict[str, str],
    source_name: str,
    generated_on: str | None = None,
) -> dict[str, Any]:
    schemas = document.get("provider_schemas")
    if not isinstance(schemas, dict):
        raise SchemaSourceError("input has no provider_schemas: is it `terraform providers schema -json` output?")
    stamps: list[dict[str, Any]] = []
    resources: dict[str, Any] = {}
    data_sources: dict[str, Any] = {}
    for provider, expected in snap.PROVIDER_VERSIONS.items():
        version = versions.get(provider)
        if version is None:
            raise SchemaSourceError(f"no version for {provider}: pass --lock-file or --version {provider}=X.Y.Z")
        if version != expected:
            raise SchemaSourceError(
                f"{provider} {version} given, the snapshot is pinned to {expected} "
                f"(update PROVIDER_VERSIONS in tools/schema_snapshot.py on purpose)"
            )
        schema = find_provider(schemas, provider)
        r_schemas = schema.get("resource_schemas", {})
        d_schemas = schema.get("data_source_schemas", {})
        for tf_type in snap.RESOURCE_TYPES[provider]:
            if tf_type in r_schemas:
                resources[tf_type] = {"provider": provider, "block": convert_block(r_schemas[tf_type]["block"], tf_type)}
        for tf_type in snap.DATA_SOURCE_TYPES[provider]:
            if tf_type in d_schemas:
                data_sources[tf_type] = {
                    "provider": provider,
                    "block": convert_block(d_schemas[tf_type]["block"], f"data.{tf_type}"),
                }
        stamps.append(
            snap.provider_stamp(
                provider,
                version,
                f"terraform providers schema -json ({source_name}) via tools/schema_from_terraform.py",
                list(r_schemas),
                list(d_schemas),
                generated_on,
            )
        )
    return snap.snapshot(stamps, resources, data_sources)


def _parse_version_args(values: list[str]) -> dict[str, str]:
    versions: dict[str, str] = {}
    for value in values:
        provider, sep, version = value.partition("=")
        if not sep or not version:
            raise SchemaSourceError(f"--version wants PROVIDER=VERSION (e.g. oracle/oci=7.19.0), got {value!r}")
        versions[provider.lower()] = version
    return versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="`terraform providers schema -json` output, or - for stdin")
    parser.add_argument("--lock-file", type=Path, help=".terraform.lock.hcl to read provider versions from")
    parser.add_argument("--version", action="append", default=[], metavar="PROVIDER=VERSION",
                        help="provider version, overrides the lock file (repeatable)")
    parser.add_argument("-o", "--output", type=Path, default=snap.DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    try:
        versions = versions_from_lock_file(args.lock_file) if args.lock_file else {}
        versions.update(_parse_version_args(args.version))
        if args.input == "-":
            document, source_name = json.load(sys.stdin), "stdin"
        else:
            path = Path(args.input)
            document, source_name = json.loads(path.read_text(encoding="utf-8")), path.name
        snapshot_doc = build(document, versions, source_name)
    except (SchemaSourceError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = snap.write(snapshot_doc, args.output)
    print(f"wrote {args.output} ({size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
