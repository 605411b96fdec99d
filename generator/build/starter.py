"""`flowstack init`: a commented starter config, written from the model's own descriptions.

The comments come from the field descriptions in `config`, so the starter and the
config reference never disagree; a test loads the starter back through `load_config`.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from generator.config.load import parse_config
from generator.config.schema import StackConfig
from generator.core.errors import PackageError
from generator.core.files import write_file
from generator.emit.jsonschema import MARK, SCHEMA_FILE_NAME, schema_text

# Values a starter must show although they have no default (or a better example).
EXAMPLES: dict[str, Any] = {
    "name": "mystack",
}
# Opt-in settings: shown commented out, with an example, so a user can find and enable them.
COMMENTED: dict[str, str] = {
    "network.ssh_source_cidr": "ssh_source_cidr: 203.0.113.7/32",
    # Left out, the server names itself through sslip.io (issue 16): nothing to set up to start.
    "domains": "domains:\n  mode: custom\n  socket_host: socket.example.com\n  livekit_host: livekit.example.com\n  # turn_host: turn.example.com",
    # Neither image nor git: the built-in sample app runs until you give your own.
    "socket.image": "image: ghcr.io/you/socket-server:1.0.0",
    "tls.email": "email: you@example.com",
    "socket.git": "git: {url: https://github.com/you/socket-server.git, ref: main, path: .}",
    "extra_ports": "extra_ports:\n  - {protocol: tcp, port: 9100, source: 10.0.0.0/16, reason: 'node exporter, scraped from the VCN'}",
    "budget": "budget:\n  enabled: true\n  amount: 1\n  thresholds: [80, 100]\n  recipients: [you@example.com]",
    "traffic_alarm": "traffic_alarm:\n  enabled: true\n  emails: [you@example.com]\n  slack: false",
    "tags": "tags: {team: realtime}",
}
SKIP = set(COMMENTED)


def starter_config(name: str = "mystack", schema_ref: str | None = SCHEMA_FILE_NAME) -> str:
    """The starter; ``schema_ref`` (a path beside the config, or a URL) feeds editors' completion."""
    lines = [f"# yaml-language-server: $schema={schema_ref}"] if schema_ref else []
    lines += [
        "# flowstack stack config. Every key has a default unless marked (required).",
        "# Reference: docs/config-reference.md. Build with: flowstack zip THIS_FILE",
    ]
    _emit(StackConfig, "", 0, lines, {**EXAMPLES, "name": name})
    return "\n".join(lines) + "\n"


def _emit(model: type[BaseModel], prefix: str, depth: int, lines: list[str], examples: dict[str, Any]) -> None:
    pad = "  " * depth
    for fname, field in model.model_fields.items():
        path = f"{prefix}{fname}"
        if path in COMMENTED:
            lines.append(f"{pad}# {field.description} (optional)")
            lines += [f"{pad}# {ln}" for ln in COMMENTED[path].splitlines()]
            continue
        sub = _submodel(field.annotation)
        required = field.is_required()
        lines.append(f"{pad}# {field.description}{' (required)' if required else ''}")
        if sub is not None and path not in examples:
            lines.append(f"{pad}{fname}:")
            _emit(sub, f"{path}.", depth + 1, lines, examples)
            continue
        value = examples.get(path, None if required else field.get_default(call_default_factory=True))
        lines.append(f"{pad}{fname}: {_yaml_scalar(value)}")


def _submodel(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    return None


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if hasattr(value, "exploded"):  # ip networks
        value = str(value)
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def config_reference() -> str:
    """The README's config reference table, from the model (a test keeps README in step)."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for fname, field in model.model_fields.items():
            path = f"{prefix}{fname}"
            sub = _submodel(field.annotation) or _list_model(field.annotation) or _optional_model(field.annotation)
            default = "(required)" if field.is_required() else _yaml_scalar(field.get_default(call_default_factory=True))
            if sub is not None and not field.is_required() and default.startswith("{"):
                default = ""
            desc = (field.description or "").replace("|", "\\|")
            rows.append(f"| `{path}` | {('`' + default + '`') if default and default != '(required)' else default} | {desc} |")
            if sub is not None:
                walk(sub, f"{path}[]." if _list_model(field.annotation) else f"{path}.")

    walk(StackConfig, "")
    return "\n".join(rows) + "\n"


def _list_model(ann: Any) -> type[BaseModel] | None:
    if typing.get_origin(ann) is not list:
        return None
    for arg in typing.get_args(ann):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _optional_model(ann: Any) -> type[BaseModel] | None:
    return next((a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)), None)


def write_starter(target: Path, name: str | None = None, *, force: bool = False) -> Path:
    """`flowstack init`: write a commented starter config, never over a file without ``force``.

    >>> write_starter(Path("stacks/demo.yaml"))  # doctest: +SKIP
    PosixPath('stacks/demo.yaml')
    """
    if target.exists() and not force:
        raise PackageError(f"{target} already exists; pass --force to overwrite it")
    schema = target.parent / SCHEMA_FILE_NAME
    if schema.exists() and MARK not in schema.read_text(encoding="utf-8", errors="replace"):
        raise PackageError(f"{schema} exists and was not written by flowstack; move it away (the starter's editor schema goes there)")
    text = starter_config(name or target.stem)
    parse_config(text, str(target))  # the starter must itself be a valid config
    # The schema beside the config: editors find it offline through the file's first line.
    write_file(schema_text().encode("utf-8"), schema)
    return write_file(text.encode("utf-8"), target)
