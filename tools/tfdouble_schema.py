"""Build ``generator/tfdouble/data/schema.json``: the schema the provider double serves.

Run by a maintainer when the provider versions change (never by flowstack, never in CI)::

    .venv/bin/python tools/tfdouble_schema.py \\
        --oci-provider-dir DIR_WITH_terraform-provider-oci \\
        --random-provider-dir DIR_WITH_terraform-provider-random \\
        --oci-source OCI_PROVIDER_SOURCE_TREE

Source of the schema: the real providers themselves. Each provider binary is built from
its release tag (``oracle/terraform-provider-oci`` v7.19.0 with its vendored modules,
``GOFLAGS=-mod=vendor go build``; ``hashicorp/terraform-provider-random`` v3.7.2 with
``go build``), then ``terraform providers schema -json`` is run against them through
``dev_overrides`` (no registry). That JSON is exact for attribute types,
required/optional/computed, sensitive, nesting modes and min/max items; it is trimmed to
the types in ``tools/schema_snapshot.py`` (``RESOURCE_TYPES``/``DATA_SOURCE_TYPES``).

Where the sources came from (2026-12-01): the Go module proxy refuses
``github.com/oracle/terraform-provider-oci`` (``go list -m -versions``: "403 Forbidden ...
This module version is not available") and has no ``terraform-provider-random`` v3
module, so both trees were taken from the providers' GitHub release tags (commits are
recorded in the output's ``source``); the OCI build (vendored modules, Go 1.26, 2 cores)
took about 16 minutes. Why not the cdktf jsii assembly that ``schema_from_jsii.py``
reads: it cannot tell whether a settable attribute is also computed, has no
``sensitive`` flags, and does not say list from set for every nested block.

What the JSON does not carry is which changes replace a resource (SDKv2's ``ForceNew``,
the framework's ``RequiresReplace``). For oracle/oci these are read from the provider
source's schema literals (every ``ForceNew: true`` under an attribute key) plus the
instance's ``CustomizeDiff`` (metadata ``user_data``/``ssh_authorized_keys``,
core_instance_resource.go); for random_password from resource_password.go (every
argument has a RequiresReplace plan modifier).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import schema_snapshot as snap

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "generator" / "tfdouble" / "data" / "schema.json"
VERSIONS = {"oracle/oci": "7.19.0", "hashicorp/random": "3.7.2"}
ADDRESS = {"oracle/oci": "registry.terraform.io/oracle/oci", "hashicorp/random": "registry.terraform.io/hashicorp/random"}

# Replacement rules not visible in schema literals (see the module docstring).
# oci_core_instance: internal/service/core/core_instance_resource.go @ v7.19.0 (9fd9296e), the
# resource's CustomizeDiff: "Updates of 'ssh_authorized_keys' and 'user_data' in Instance
# 'metadata' should result in Force New" -> customdiff.ForceNewIfChange("metadata", ...) compares
# only those two keys; every other metadata key (the config bundle, flowstack_bundle) and all of
# extended_metadata go through UpdateInstance, in place (research.md A, checked again 2026-12-02).
EXTRA_FORCE_NEW = {
    "oci_core_instance": ["metadata.ssh_authorized_keys", "metadata.user_data"],
    "random_password": ["keepers", "length", "lower", "min_lower", "min_numeric", "min_special", "min_upper",
                        "number", "numeric", "override_special", "special", "upper"],
}


def providers_schema(terraform: str, overrides: dict[str, Path]) -> dict[str, Any]:
    """``terraform providers schema -json`` with the given provider directories."""
    with tempfile.TemporaryDirectory(prefix="tfdouble-schema-") as tmp:
        d = Path(tmp)
        lines = [f'    "{src}" = "{path}"' for src, path in overrides.items()]
        (d / "cli.tfrc").write_text("provider_installation {\n  dev_overrides {\n" + "\n".join(lines)
                                    + "\n  }\n  direct {}\n}\n")
        req = "\n".join(f'    {src.split("/")[1]} = {{ source = "{src}" }}' for src in overrides)
        (d / "main.tf").write_text(f"terraform {{\n  required_providers {{\n{req}\n  }}\n}}\n")
        out = subprocess.run([terraform, "providers", "schema", "-json"], cwd=d, check=True, capture_output=True,
                             text=True, env={"TF_CLI_CONFIG_FILE": str(d / "cli.tfrc"), "PATH": "/usr/bin:/bin",
                                             "HOME": tmp})
        return json.loads(out.stdout)


def _register_map(source: Path) -> dict[str, tuple[str, str]]:
    """Terraform type -> (package dir, constructor function) from register_resource.go files."""
    found = {}
    for reg in source.glob("internal/service/*/register_resource.go"):
        for m in re.finditer(r'RegisterResource\("(\w+)", (\w+)\(\)\)', reg.read_text()):
            found[m[1]] = (str(reg.parent), m[2])
    return found


def force_new_paths(package_dir: Path, function: str) -> list[str]:
    """Dotted paths of attributes marked ``ForceNew: true`` in an SDKv2 schema literal."""
    text = ""
    for f in sorted(package_dir.glob("*.go")):
        body = f.read_text()
        m = re.search(rf"^func {function}\(\) \*schema\.Resource \{{\n", body, re.MULTILINE)
        if m:
            text = body[m.end():]
            break
    if not text:
        raise SystemExit(f"no func {function} in {package_dir}")
    depth, stack, paths = 1, [], set()
    for line in text.splitlines():
        code = re.sub(r'"(?:[^"\\]|\\.)*"(?!:)', '""', line.split("//")[0])
        m = re.match(r'\s*"(\w+)":\s*\{', line)
        if m:
            stack.append((m[1], depth))
        if re.search(r"\bForceNew:\s*true", code) and stack:
            paths.add(".".join(n for n, _ in stack))
        depth += code.count("{") - code.count("}")
        while stack and depth <= stack[-1][1]:
            stack.pop()
        if depth <= 0:
            break
    return sorted(paths)


def trim(doc: dict[str, Any], provider: str) -> dict[str, Any]:
    p = doc["provider_schemas"][ADDRESS[provider]]
    res = {t: p["resource_schemas"][t] for t in snap.RESOURCE_TYPES[provider]}
    data = {t: p["data_source_schemas"][t] for t in snap.DATA_SOURCE_TYPES[provider]}
    return {"provider": p["provider"], "resource_schemas": res, "data_source_schemas": data,
            "all_resource_types": sorted(p["resource_schemas"]), "all_data_source_types": sorted(p.get("data_source_schemas", {}))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--terraform", default="terraform")
    ap.add_argument("--oci-provider-dir", type=Path, required=True)
    ap.add_argument("--random-provider-dir", type=Path, required=True)
    ap.add_argument("--oci-source", type=Path, required=True, help="oracle/terraform-provider-oci source at the release tag")
    ap.add_argument("--oci-commit", default="", help="git commit of the OCI provider's release tag (recorded)")
    ap.add_argument("--random-commit", default="", help="git commit of the random provider's release tag (recorded)")
    ap.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = ap.parse_args(argv)
    doc = providers_schema(args.terraform, {"oracle/oci": args.oci_provider_dir, "hashicorp/random": args.random_provider_dir})
    registry = _register_map(args.oci_source)
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    out: dict[str, Any] = {"format": "terraform providers schema -json, trimmed; plus force_new", "providers": {}}
    for provider, how in (("oracle/oci", (f"github.com/oracle/terraform-provider-oci v{VERSIONS['oracle/oci']} built with "
                                         "GOFLAGS=-mod=vendor go build")),
                          ("hashicorp/random", (f"github.com/hashicorp/terraform-provider-random v{VERSIONS['hashicorp/random']} "
                                               "built with go build"))):
        entry = trim(doc, provider)
        force: dict[str, list[str]] = {}
        for t in snap.RESOURCE_TYPES[provider]:
            paths = set(EXTRA_FORCE_NEW.get(t, []))
            if provider == "oracle/oci":
                pkg, fn = registry[t]
                paths |= set(force_new_paths(Path(pkg), fn))
            force[t] = sorted(paths)
        entry["force_new"] = force
        entry["source"] = {"provider": provider, "version": VERSIONS[provider], "generated_on": today,
                           "schema_from": f"`terraform providers schema -json` ({doc.get('format_version')}) of {how}",
                           "force_new_from": "provider source (see tools/tfdouble_schema.py)",
                           "commit": args.oci_commit if provider == "oracle/oci" else args.random_commit}
        out["providers"][ADDRESS[provider]] = entry
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
