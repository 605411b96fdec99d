"""The stack checks of `flowstack validate`, on a stack's files parsed once.

The checks re-derive what they compare from the stack's own files (its livekit.yaml,
its security list, its firewall script), so a hand edit that breaks one of them is
caught even though the generator would never write it.

Each check is a function of the `Stack` in its own module: `terraform` (syntax,
references, provider schema), `ports` (port policy, LiveKit keys), `fit` (Always Free,
Resource Manager), `secrets`.

>>> Stack({"main.tf": b"x = 1\n"}).parsed_ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import base64
import json
import re
from functools import cached_property
from typing import Any

import pygohcl
import yaml

from generator.core.contract import BUNDLE_MANIFEST, FIREWALL_SCRIPT, LIVEKIT_CONFIG
from generator.core.hcl import blocks as _blocks
from generator.core.hcl import unquote as _unquote
from generator.core.yamlio import load_yaml
from generator.derive.ports import ANYWHERE, SSH_SOURCE, PortRule

from .hclparse import parse_hcl2

# A Terraform template token: an escape, a ${placeholder} (group 1) or a directive.
TEMPLATE_TOKEN = re.compile(r"\$\$\{|%%\{|\$\{\s*([^}]*?)\s*\}|%\{")


# HCL's escapes for a literal "${" / "%{" in a string. python-hcl2 reads "$${x}" as "$" plus an
# interpolation (so user text "cost ${var.x}" looked like a reference) and fails on an
# unterminated "$${" that Terraform reads fine. Same-length stand-ins keep line/column numbers.
_ESCAPED_TEMPLATE = re.compile(r"\$\$\{|%%\{")


def escaped_as_text(text: str) -> str:
    """HCL text with escaped template sequences made plain, for python-hcl2 only.

    >>> escaped_as_text('a = "cost $${var.x} %%{ if"')
    'a = "cost $$_var.x} %%_ if"'
    """
    return _ESCAPED_TEMPLATE.sub(lambda m: m.group(0)[:2] + "_", text)


class Stack:
    """A stack's files, parsed once, with one method per check."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.text = {name: data.decode("utf-8", errors="replace") for name, data in files.items()}
        self.tf = {name: t for name, t in self.text.items() if name.endswith(".tf")}
        self.docs: dict[str, dict[str, Any]] = {}
        self.syntax_problems: list[str] = []
        self._parse()

    # -- parsing -------------------------------------------------------------
    def _parse(self) -> None:
        if not self.tf:
            self.syntax_problems.append("no .tf files found: is this a stack directory?")
        for name, text in self.tf.items():
            try:
                pygohcl.loads(text)
            except pygohcl.HCLParseError as exc:
                self.syntax_problems.append(f"{name}: HashiCorp parser: {_hashicorp_message(str(exc), name)}")
            try:
                self.docs[name] = parse_hcl2(escaped_as_text(text))
            except Exception as exc:  # python-hcl2 raises lark errors of several kinds
                self.syntax_problems.append(f"{name}: python-hcl2: {_lark_message(exc)}")
        for name in ("cloud-init.yaml", "schema.yaml"):
            if name not in self.text:
                continue  # a missing file is reported by the check that needs it
            try:
                load_yaml(self.text[name])
            except yaml.MarkedYAMLError as exc:
                line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
                self.syntax_problems.append(f"{name}:{line}: YAML syntax error: {exc.problem}")

    @property
    def parsed_ok(self) -> bool:
        return not self.syntax_problems

    def all_blocks(self, kind: str) -> list[tuple[str, str, str, dict[str, Any]]]:
        return [(f, t, n, b) for f, d in self.docs.items() for t, n, b in _blocks(d, kind)]

    def variables(self) -> dict[str, dict[str, Any]]:
        out = {}
        for doc in self.docs.values():
            for entry in doc.get("variable", []) or []:
                for name, body in entry.items():
                    out[_unquote(name)] = body
        return out

    def locals(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for doc in self.docs.values():
            for entry in doc.get("locals", []) or []:
                out.update({k: v for k, v in entry.items() if not k.startswith("__")})
        return out

    @cached_property
    def cloud_config(self) -> dict[str, Any]:
        try:
            data = load_yaml(self.text.get("cloud-init.yaml", "")) or {}
        except yaml.YAMLError:
            return {}
        return data if isinstance(data, dict) else {}

    @cached_property
    def bundle_manifest(self) -> dict[str, Any]:
        """bundle/manifest.json (the server files that change in place), or {} without one."""
        try:
            data = json.loads(self.text.get(BUNDLE_MANIFEST, "{}"))
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def bundle_entries(self) -> list[dict[str, Any]]:
        return [e for e in self.bundle_manifest.get("files") or [] if isinstance(e, dict)]

    def written_in(self, path: str) -> str:
        """The stack file that carries server file ``path``: its bundle/ template, else cloud-init.yaml."""
        return next((str(e["source"]) for e in self.bundle_entries() if e.get("path") == path and e.get("source") in self.text), "cloud-init.yaml")

    def written_file(self, path: str) -> str | None:
        """A server file's text (placeholders as ${name}): from the bundle, else from cloud-init.yaml."""
        for e in self.bundle_entries():
            if e.get("path") == path and e.get("source") in self.text:
                return None if e.get("encoding") == "b64" else self.text[e["source"]]
        for entry in self.cloud_config.get("write_files", []) or []:
            if entry.get("path") == path:
                content = entry.get("content", "")
                if entry.get("encoding") in ("b64", "base64"):
                    try:
                        return base64.b64decode(content).decode("utf-8", errors="replace")
                    except ValueError:
                        return None
                return content
        return None


    # -- 4. ports ------------------------------------------------------------
    def livekit_settings(self) -> dict[str, Any] | None:
        """The stack's livekit.yaml, parsed once (three checks read it)."""
        if "_livekit" not in self.__dict__:
            self.__dict__["_livekit"] = self._read_livekit_settings()
        return self.__dict__["_livekit"]  # type: ignore[no-any-return]

    def _read_livekit_settings(self) -> dict[str, Any] | None:
        text = self.written_file(LIVEKIT_CONFIG)
        if text is None:
            return None
        try:
            data = load_yaml(text)
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None

    def security_list_rules(self) -> list[PortRule]:
        rules = []
        for _, typ, _, body in self.all_blocks("resource"):
            if typ != "oci_core_security_list":
                continue
            for rule in body.get("ingress_security_rules", []) or []:
                proto = {"6": "tcp", "17": "udp", "1": "icmp"}.get(str(_unquote(rule.get("protocol"))), str(_unquote(rule.get("protocol"))))
                src = rule.get("source", "")
                source = SSH_SOURCE if src == "${var.ssh_source_cidr}" else str(_unquote(src))
                opts = (rule.get(f"{proto}_options") or [{}])[0]
                if proto == "icmp":
                    low, high = int(opts.get("type", -1)), int(opts.get("code", -1))  # -1: every type/code
                elif not opts:
                    low, high = 1, 65535  # no options: every port of the protocol
                else:
                    low, high = int(opts.get("min", 1)), int(opts.get("max", 65535))
                desc = str(_unquote(rule.get("description", "")))
                rules.append(PortRule(proto, low, high, source, who=desc.split(":", 1)[0], why=desc))
        return rules

    def firewall_rules(self) -> list[PortRule] | None:
        script = self.written_file(FIREWALL_SCRIPT)
        if script is None:
            return None
        out = []
        for line in script.splitlines():
            m = re.match(r"^add '(.*)'$", line.strip())
            if not m:
                continue
            spec = m.group(1)
            proto = re.search(r"-p (tcp|udp)", spec)
            dport = re.search(r"--dport (\d+)(?::(\d+))?", spec)
            src = re.search(r"-s (\S+)", spec)
            if proto and dport:
                low = int(dport.group(1))
                out.append(PortRule(proto.group(1), low, int(dport.group(2) or low), src.group(1) if src else ANYWHERE))
        return out


    # -- 5. always free ------------------------------------------------------
    def var_default(self, name: str) -> Any:
        body = self.variables().get(name)
        return None if body is None else _unquote(body.get("default"))


def _hashicorp_message(msg: str, name: str) -> str:
    msg = msg.replace("invalid HCL: ", "")
    # pygohcl names its input tmp.hcl; show the real file and keep "line,col" positions.
    first = msg.split(", tmp.hcl:")[0]
    return re.sub(r"^tmp\.hcl:(\d+),(\d+)-\d+: ", r"line \1, column \2: ", first)


def _lark_message(exc: Exception) -> str:
    line, col = getattr(exc, "line", None), getattr(exc, "column", None)
    head = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"line {line}, column {col}: {head}" if line else head


