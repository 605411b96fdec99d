"""Check Terraform files against the oracle/oci and hashicorp/random provider schemas.

No Terraform binary or provider download is reachable where flowstack is built and
tested, so ``terraform validate`` cannot catch a misspelled argument such as
``memory_in_gb``. This module checks the parsed ``.tf`` files against a trimmed, bundled
snapshot of the provider schemas (``data/provider_schema.json``, written by
``tools/schema_from_jsii.py`` or ``tools/schema_from_terraform.py``; its format is
described in ``tools/schema_snapshot.py``).

The snapshot describes in full only the types flowstack emits, and lists the names of
every other type of those providers, so a typo in a type name is told apart from a real
type the snapshot does not describe. Types of other providers are not checked.

Input is python-hcl2 8.x output (``hcl2.loads(text)``): labels and strings keep their
quotes, blocks are lists of dicts marked ``__is_block__``, and comments come back as
``__comments__`` keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from generator.core.errors import ProviderSchemaError, did_you_mean

SNAPSHOT_PATH = "data/provider_schema.json"
_FORMAT_VERSION = 1

# Terraform's own arguments and blocks; the provider schema never defines these names.
_RESOURCE_META = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"})
_DATA_META = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"})
# Resource types built into Terraform itself (no provider, so not in any snapshot).
_BUILTIN_RESOURCES = frozenset({"terraform_data"})
_BLOCK_MARKER = "__is_block__"


@dataclass(frozen=True)
class SchemaProblem:
    """One place where a .tf file disagrees with the provider schema.

    ``address`` is Terraform's (``oci_core_instance.server``, ``data.oci_core_images.ubuntu``);
    ``path`` is the dotted way to the offending argument or block inside it
    (``shape_config.memory_in_gb``; ``ingress_security_rules[1].tcp_options`` when a block
    repeats), empty when the problem is the whole resource. ``code`` is one of
    ``unknown-type``, ``wrong-kind-of-type``, ``not-in-snapshot``, ``unknown-argument``,
    ``unknown-block``, ``argument-as-block``, ``block-as-argument``, ``read-only-argument``,
    ``missing-required``, ``too-many-blocks``, ``too-few-blocks``. ``severity`` is
    ``"warning"`` only for ``not-in-snapshot`` (a real type flowstack's snapshot lacks:
    regenerate it), ``"error"`` otherwise.
    """

    file: str
    address: str
    path: str
    message: str
    code: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}: {self.address}" + (f": {self.path}" if self.path else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class _Snapshot:
    providers: tuple[dict[str, Any], ...]
    resources: dict[str, dict[str, Any]]
    data_sources: dict[str, dict[str, Any]]
    resource_names: frozenset[str]
    data_source_names: frozenset[str]
    prefixes: frozenset[str]


@lru_cache(maxsize=1)
def _snapshot() -> _Snapshot:
    try:
        text = resources.files("generator").joinpath(SNAPSHOT_PATH).read_text("utf-8")
        doc = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ProviderSchemaError(f"cannot read the bundled provider schema {SNAPSHOT_PATH}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format_version") != _FORMAT_VERSION:
        raise ProviderSchemaError(
            f"{SNAPSHOT_PATH} is not a format {_FORMAT_VERSION} snapshot: this flowstack installation is damaged; reinstall flowstack"
        )
    providers = tuple(doc["providers"])
    return _Snapshot(
        providers=providers,
        resources=doc["resources"],
        data_sources=doc["data_sources"],
        resource_names=frozenset(n for p in providers for n in p["resource_types"]),
        data_source_names=frozenset(n for p in providers for n in p["data_source_types"]),
        # A type's name starts with its provider's local name: oracle/oci -> oci_...
        prefixes=frozenset(p["provider"].split("/")[-1] for p in providers),
    )


def known_types() -> set[str]:
    """Types the snapshot describes in full, addressed as in Terraform.

    Resources are bare (``oci_core_instance``), data sources carry ``data.``
    (``data.oci_core_images``): one name can be both (``oci_identity_compartment``).
    """
    snap = _snapshot()
    return set(snap.resources) | {f"data.{t}" for t in snap.data_sources}


def snapshot_version() -> str:
    """The oracle/oci provider version the snapshot was taken from (e.g. ``"7.19.0"``)."""
    return snapshot_providers()["oracle/oci"]


def snapshot_providers() -> dict[str, str]:
    """Every provider in the snapshot with its version: ``{"oracle/oci": "7.19.0", ...}``."""
    return {p["provider"]: p["version"] for p in _snapshot().providers}


def check(documents: dict[str, dict]) -> list[SchemaProblem]:
    """Check parsed .tf files; ``documents`` maps a file name to ``hcl2.loads(text)``.

    Returns every problem found, in file order; an empty list means the files agree with
    the schema as far as the snapshot can tell.
    """
    snap = _snapshot()
    problems: list[SchemaProblem] = []
    for file, document in documents.items():
        checker = _Checker(snap, file, explicit_blocks=_has_block_marker(document))
        for section in ("resource", "data"):
            for tf_type, name, body in _declarations(document, section):
                checker.declaration(section, tf_type, name, body)
        problems.extend(checker.problems)
    return problems


def _unquote(label: str) -> str:
    """python-hcl2 keeps a label's quotes: ``'"oci_core_vcn"'`` -> ``oci_core_vcn``."""
    if len(label) >= 2 and label[0] == label[-1] == '"':
        return label[1:-1]
    return label


def _is_meta_key(key: str) -> bool:
    """python-hcl2's own keys (``__is_block__``, ``__comments__``, ``__start_line__``...)."""
    return key.startswith("__") and key.endswith("__")


def _has_block_marker(value: Any) -> bool:
    """Whether the document was parsed with block markers (python-hcl2's default).

    Without them (``explicit_blocks=False``) a block can only be told from an attribute by
    its shape, which the checker then falls back to.
    """
    if isinstance(value, dict):
        return _BLOCK_MARKER in value or any(_has_block_marker(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_block_marker(v) for v in value)
    return False


def _declarations(document: dict, section: str) -> Iterator[tuple[str, str, dict]]:
    """(type, name, body) of every ``resource``/``data`` block in one document."""
    entries = document.get(section) if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        for type_label, named in entry.items():
            if _is_meta_key(type_label) or not isinstance(named, dict):
                continue
            for name_label, body in named.items():
                if not _is_meta_key(name_label) and isinstance(body, dict):
                    yield _unquote(type_label), _unquote(name_label), body


class _Checker:
    """Walks one file's declarations and collects its problems."""

    def __init__(self, snap: _Snapshot, file: str, *, explicit_blocks: bool) -> None:
        self.snap = snap
        self.file = file
        self.explicit_blocks = explicit_blocks
        self.problems: list[SchemaProblem] = []

    def _add(self, address: str, path: str, message: str, code: str, severity: str = "error") -> None:
        self.problems.append(SchemaProblem(self.file, address, path, message, code, severity))

    def _is_blocks(self, value: Any) -> bool:
        if not isinstance(value, list) or not value:
            return False
        if self.explicit_blocks:
            return all(isinstance(item, dict) and item.get(_BLOCK_MARKER) for item in value)
        return all(isinstance(item, dict) for item in value)

    def _is_labeled_blocks(self, value: Any) -> bool:
        """``dynamic "x" { }``: python-hcl2 gives ``[{'"x"': {..., "__is_block__": True}}]``."""
        if not isinstance(value, list) or not value:
            return False
        return all(
            isinstance(item, dict)
            and all(self._is_blocks([body]) for label, body in item.items() if not _is_meta_key(label))
            for item in value
        )

    def declaration(self, section: str, tf_type: str, name: str, body: dict) -> None:
        is_resource = section == "resource"
        address = f"{tf_type}.{name}" if is_resource else f"data.{tf_type}.{name}"
        schema = self._type_schema(is_resource, tf_type, address)
        if schema is not None:
            self._block(body, schema["block"], address, "", _RESOURCE_META if is_resource else _DATA_META)

    def _type_schema(self, is_resource: bool, tf_type: str, address: str) -> dict[str, Any] | None:
        snap = self.snap
        described = snap.resources if is_resource else snap.data_sources
        if tf_type in described:
            return described[tf_type]
        same = snap.resource_names if is_resource else snap.data_source_names
        other = snap.data_source_names if is_resource else snap.resource_names
        kind, other_kind = ("resource", "data source") if is_resource else ("data source", "resource")
        if tf_type in same:
            self._add(
                address, "",
                f'{kind} type "{tf_type}" exists in the provider but the bundled schema snapshot does not '
                "describe it, so it was not checked (the snapshot covers the types flowstack's own stacks use)",
                "not-in-snapshot", "warning",
            )
            return None
        if tf_type in other:
            self._add(address, "", f'"{tf_type}" is a {other_kind} type, not a {kind} type', "wrong-kind-of-type")
            return None
        prefix = tf_type.split("_", 1)[0]
        if is_resource and tf_type in _BUILTIN_RESOURCES:
            return None
        # Only judge names that belong (or nearly belong, as with "oic_") to a provider the
        # snapshot covers; tls_private_key and the like are another provider's business.
        if prefix in snap.prefixes or did_you_mean(prefix, snap.prefixes):
            self._add(address, "", f'unknown {kind} type "{tf_type}"{did_you_mean(tf_type, same)}', "unknown-type")
        return None

    def _block(self, body: dict, schema: dict[str, Any], address: str, path: str, meta: Iterable[str]) -> None:
        attributes: dict[str, Any] = schema["attributes"]
        blocks: dict[str, Any] = schema["blocks"]
        settable = [n for n, a in attributes.items() if a["required"] or a["optional"]] + list(blocks)
        counts: dict[str, int] = {}
        dynamic: set[str] = set()
        for key, value in body.items():
            if _is_meta_key(key) or key in meta:
                continue
            where = f"{path}.{key}" if path else key
            if key == "dynamic" and self._is_labeled_blocks(value):
                dynamic |= self._dynamic(value, schema, address, path, settable)
            elif key in attributes:
                self._attribute(key, value, attributes[key], address, where)
            elif key in blocks:
                counts[key] = self._nested(key, value, blocks[key], address, path, where)
            else:
                kind = "block" if self._is_blocks(value) else "argument"
                self._add(address, where, f'unknown {kind} "{key}"{did_you_mean(key, settable)}', f"unknown-{kind}")
        for name, attr in attributes.items():
            if attr["required"] and name not in body:
                self._add(address, f"{path}.{name}" if path else name,
                          f'required argument "{name}" is missing', "missing-required")
        for name, nested in blocks.items():
            if nested["min_items"] > 0 and name not in dynamic:
                given = counts.get(name, 0)
                where = f"{path}.{name}" if path else name
                if given == 0:
                    self._add(address, where, f'required block "{name}" is missing', "missing-required")
                elif given < nested["min_items"]:
                    self._add(address, where, f'needs at least {nested["min_items"]} "{name}" blocks, has {given}',
                              "too-few-blocks")

    def _attribute(self, key: str, value: Any, attr: dict[str, Any], address: str, where: str) -> None:
        if not (attr["required"] or attr["optional"]):
            self._add(address, where, f'"{key}" is set by the provider (read-only) and cannot be written',
                      "read-only-argument")
        elif self._is_blocks(value) and attr["type"] != "object":
            # A list/object-of-objects attribute may be written in block syntax when the
            # provider marks it "attributes as blocks" (SDKv2 ConfigModeAttr); the schema
            # does not say which, so only a scalar/list-of-scalars written as a block is
            # certainly wrong.
            self._add(address, where, f'"{key}" is an argument, not a block: write {key} = ...',
                      "argument-as-block")

    def _nested(self, key: str, value: Any, nested: dict[str, Any], address: str, path: str, where: str) -> int:
        """Check one nested block name's occurrences; return how many were given."""
        if not self._is_blocks(value):
            self._add(address, where, f'"{key}" is a block, not an argument: write {key} {{ ... }} without "="',
                      "block-as-argument")
            return 1  # present, just misspelled in form: do not also report it missing
        max_items = nested["max_items"]
        if max_items is not None and len(value) > max_items:
            self._add(address, where, f'"{key}" may appear at most {max_items} time(s), found {len(value)}',
                      "too-many-blocks")
        for i, item in enumerate(value):
            item_path = where if len(value) == 1 else f"{where}[{i}]"
            self._block(item, nested["block"], address, item_path, ())
        return len(value)

    def _dynamic(self, value: list, schema: dict[str, Any], address: str, path: str, settable: list[str]) -> set[str]:
        """Check ``dynamic "label" { content { ... } }`` against the block named by its label."""
        labels: set[str] = set()
        for item in value:
            for label, dyn in item.items():
                if _is_meta_key(label) or not isinstance(dyn, dict):
                    continue
                name = _unquote(label)
                where = f"{path}.{name}" if path else name
                if name in schema["attributes"]:
                    self._add(address, where, f'"{name}" is an argument; a dynamic block can only generate blocks',
                              "argument-as-block")
                elif name not in schema["blocks"]:
                    self._add(address, where, f'unknown block "{name}" in dynamic block{did_you_mean(name, settable)}',
                              "unknown-block")
                else:
                    labels.add(name)
                    content = dyn.get("content")
                    for part in content if content is not None and self._is_blocks(content) else []:
                        self._block(part, schema["blocks"][name]["block"], address, where, ())
        return labels
