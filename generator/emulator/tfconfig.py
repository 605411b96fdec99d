"""A stack zip's root module as ``terraform init/plan`` would see it: resources, variables, outputs.

The zip's ``.tf`` files are parsed with HashiCorp's parser (through pygohcl) for syntax,
so a broken file gets the messages Terraform itself would give, and with python-hcl2 for
structure.  ``TfConfig.error`` is set when Terraform would stop.

>>> analyse_zip(b"not a zip").error[0]
'TERRAFORM_CONFIG_UNZIP_FAILED'
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import hcl2
import pygohcl  # HashiCorp hcl v2 via Go: the messages Terraform itself would give


@dataclass
class Resource:
    address: str
    type: str
    name: str
    file: str
    line: int
    # The ``keepers`` map as sorted JSON ("" when none): a random_* resource gets a new value
    # whenever it changes, as hashicorp/random replaces it.
    keepers: str = ""


@dataclass
class Output:
    name: str
    value: Any
    sensitive: bool
    description: str | None


@dataclass
class Variable:
    name: str
    has_default: bool
    default: Any
    file: str
    line: int


@dataclass
class TfConfig:
    """What the simulation needs from a stack zip; ``error`` is set when Terraform would stop."""

    resources: list[Resource] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    variables: dict[str, Variable] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    error: tuple[str, list[str]] | None = None  # (failure code, terraform error lines)


def analyse_zip(data: bytes, working_directory: str | None = None) -> TfConfig:
    """Parse a stack zip the way ``terraform init/plan`` would see its root module."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError) as exc:
        return TfConfig(error=("TERRAFORM_CONFIG_UNZIP_FAILED", [f"Error: the configuration zip cannot be unzipped ({exc})"]))
    root = (working_directory or "").strip("/")
    tf_files = sorted(
        n for n in names if n.endswith(".tf") and posixpath.dirname(n.rstrip("/")) == root
    )
    if not tf_files:
        where = f'working directory "{root}"' if root else "the root of the zip"
        code = "INVALID_WORKING_DIRECTORY" if root else "TERRAFORM_EXECUTION_ERROR"
        return TfConfig(error=(code, [f"Error: No configuration files in {where}", "Apply requires configuration to be present."]))

    config = TfConfig()
    for name in tf_files:
        try:
            text = archive.read(name).decode("utf-8")
        except (UnicodeDecodeError, KeyError, zipfile.BadZipFile) as exc:
            config.error = ("TERRAFORM_EXECUTION_ERROR", [f"Error: cannot read {name}: {exc}"])
            return config
        short = posixpath.basename(name)
        syntax = _syntax_errors(text, short)
        if syntax:
            config.error = ("TERRAFORM_EXECUTION_ERROR", syntax)
            return config
        _collect(config, text, short)
    return config


def _syntax_errors(text: str, filename: str) -> list[str]:
    """HashiCorp's own parser's verdict, rendered the way ``terraform`` prints it."""
    try:
        pygohcl.loads(text)
    except pygohcl.HCLParseError as exc:
        lines: list[str] = []
        for match in re.finditer(r"[\w.]+:(\d+),\d+-\d+: ([^;]+); (.*?)(?=, [\w.]+:\d+,\d+-\d+: |$)", str(exc)):
            line_no, summary, detail = match.groups()
            lines += [f"Error: {summary}", f"  on {filename} line {line_no}:", detail]
        return lines or [f"Error: {filename}: {exc}"]
    except Exception as exc:  # pygohcl raises a few other types for odd input
        return [f"Error: {filename}: {exc}"]
    return []


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _keepers(body: Any) -> str:
    keepers = body.get("keepers") if isinstance(body, dict) else None
    keepers = keepers[0] if isinstance(keepers, list) and keepers else keepers
    if not isinstance(keepers, dict):
        return ""
    return json.dumps({unquote(k): unquote(v) for k, v in keepers.items() if k != "__is_block__"}, sort_keys=True, default=str)


def _line_of(text: str, pattern: str) -> int:
    match = re.search(pattern, text, re.M)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _collect(config: TfConfig, text: str, filename: str) -> None:
    try:
        doc = hcl2.loads(text)
    except Exception:
        # HashiCorp's parser accepted the file but python-hcl2 did not: fall back to the
        # block headers, which is all the resource count needs.
        for kind, name in re.findall(r'^resource\s+"([\w-]+)"\s+"([\w-]+)"', text, re.M):
            line = _line_of(text, rf'^resource\s+"{kind}"\s+"{name}"')
            config.resources.append(Resource(f"{kind}.{name}", kind, name, filename, line))
        return

    for block in doc.get("resource", []):
        for kind, named in block.items():
            kind = unquote(kind)
            for name, body in named.items():
                name = unquote(name)
                line = _line_of(text, rf'^resource\s+"{re.escape(kind)}"\s+"{re.escape(name)}"')
                count = body.get("count") if isinstance(body, dict) else None
                if isinstance(count, int) and not isinstance(count, bool):
                    config.resources += [Resource(f"{kind}.{name}[{i}]", kind, name, filename, line) for i in range(count)]
                else:
                    config.resources.append(Resource(f"{kind}.{name}", kind, name, filename, line, _keepers(body)))
    for block in doc.get("variable", []):
        for name, body in block.items():
            name = unquote(name)
            body = body if isinstance(body, dict) else {}
            config.variables[name] = Variable(
                name, "default" in body, unquote(body.get("default")), filename,
                _line_of(text, rf'^variable\s+"{re.escape(name)}"'),
            )
    for block in doc.get("locals", []):
        for name, value in block.items():
            if name != "__is_block__":
                config.locals[name] = value
    for block in doc.get("output", []):
        for name, body in block.items():
            body = body if isinstance(body, dict) else {}
            description = unquote(body.get("description"))
            config.outputs.append(
                Output(unquote(name), body.get("value"), body.get("sensitive") is True,
                       description if isinstance(description, str) else None)
            )
