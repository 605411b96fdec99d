"""`flowstack validate`: prove a stack is right before it leaves the machine.

Works on the in-memory ``{path: bytes}`` of a render, or on a stack directory someone
edited by hand. Each check returns a `CheckResult`; a `Report` is their list. Nothing
here prints or exits: the CLI formats the report.

The checks re-derive what they compare from the stack's own files (its livekit.yaml,
its security list, its firewall script), so a hand edit that breaks one of them is
caught even though the generator would never write it.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import hcl2
import pygohcl
import yaml

from . import limits
from .config import StackConfig, load_config
from .errors import did_you_mean
from .livekit import unknown_keys
from .versions import too_old_for_current_clients
from .model import AUTO_FILLED
from .ports import ANYWHERE, SSH_SOURCE, LiveKitSettingsError, PortRule, host_rules, livekit_needs, policy_from_livekit

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"

# libyaml's loader when PyYAML was built with it: the same results, several times faster.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a safe loader

# Console upload limit for a stack zip: about 11 MB (community report, not verified).
ZIP_LIMIT_BYTES = 11 * 1024 * 1024
# OCI LaunchInstanceDetails: metadata + extended_metadata at most 32,000 bytes.
METADATA_LIMIT_BYTES = 32_000
# An RSA-4096 OpenSSH public key is ~750 bytes; budget for a long one plus the JSON around it.
SSH_KEY_ALLOWANCE = 1_000
FIREWALL_PATH = "/usr/local/sbin/flowstack-firewall"
LIVEKIT_PATH = "/opt/flowstack/livekit.yaml"

SECRET_NAME = re.compile(r"(secret|password|passwd|token|private_key|api_key_secret)", re.I)
PRIVATE_KEY_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+ )?PRIVATE KEY-----")


@dataclass
class CheckResult:
    check: str
    status: str
    detail: str
    problems: list[str] = field(default_factory=list)


@dataclass
class Report:
    results: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(r.status != FAIL for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAIL]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(r) for r in self.results]}

    def summary(self) -> str:
        bad = self.failures
        if not bad:
            return "stack is valid"
        first = bad[0].problems[0] if bad[0].problems else bad[0].detail
        return f"stack failed {len(bad)} check(s): {', '.join(r.check for r in bad)}. First problem: {first}"


def format_table(report: Report) -> str:
    """A fixed-width table: check, result, detail (one line per problem under its check)."""
    width = max(len(r.check) for r in report.results)
    lines = [f"{'check'.ljust(width)}  result  detail", f"{'-' * width}  ------  {'-' * 40}"]
    for r in report.results:
        lines.append(f"{r.check.ljust(width)}  {r.status.upper().ljust(6)}  {r.detail}")
        for p in r.problems:
            lines.append(f"{''.ljust(width)}          - {p}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Entry points


def read_stack_dir(path: Path) -> dict[str, bytes]:
    """The stack files of a directory (its top level, as Resource Manager reads a zip)."""
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")}


def validate_path(
    path: str | Path, *, external: bool = True, allow_paid: bool = False, on: dt.date | None = None
) -> Report:
    """Validate a config file (rendered first) or an already generated stack directory."""
    p = Path(path)
    if p.is_dir():
        return validate_files(read_stack_dir(p), None, external=external, allow_paid=allow_paid, on=on)
    from .render import render_stack

    config = load_config(p)
    return validate_files(render_stack(config, on), config, external=external, allow_paid=allow_paid, on=on)


def validate_files(
    files: dict[str, bytes],
    config: StackConfig | None = None,
    *,
    external: bool = False,
    allow_paid: bool = False,
    on: dt.date | None = None,
) -> Report:
    """Run every check on a stack's files. ``external`` adds Terraform and Checkov when installed."""
    stack = _Stack(files)
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("syntax", stack.check_syntax),
        ("references", stack.check_references),
        ("provider schema", stack.check_provider_schema),
        ("port policy", lambda: stack.check_ports(config)),
        ("livekit settings", stack.check_livekit_keys),
        ("always free", lambda: stack.check_always_free(config, allow_paid, on)),
        ("resource manager fit", stack.check_rm_fit),
        ("secrets", lambda: stack.check_secrets(config)),
    ]
    results = []
    for name, fn in checks:
        if name != "syntax" and not stack.parsed_ok:
            results.append(CheckResult(name, SKIP, "skipped: fix the syntax errors first"))
            continue
        results.append(fn())
    if external:
        results += [external_terraform(files), external_checkov(files)]
    return Report(results)


# ---------------------------------------------------------------------------


def _unquote(v: Any) -> Any:
    if isinstance(v, str) and len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1]
    return v


def _label(v: str) -> str:
    return _unquote(v)


def _blocks(doc: dict[str, Any], kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of every ``resource``/``data`` block in a python-hcl2 document."""
    out = []
    for entry in doc.get(kind, []) or []:
        for typ, named in entry.items():
            for name, body in named.items():
                out.append((_label(typ), _label(name), body))
    return out


_REF = re.compile(
    r"(?<![\w.])(?:"
    r"(?P<var>var)\.(?P<var_name>[A-Za-z_][\w-]*)"
    r"|(?P<local>local)\.(?P<local_name>[A-Za-z_][\w-]*)"
    r"|data\.(?P<data_type>[a-z][a-z0-9]*_[\w]+)\.(?P<data_name>[A-Za-z_][\w-]*)"
    r"|(?P<res_type>(?!data\b)[a-z][a-z0-9]*_[a-z0-9_]+)\.(?P<res_name>[A-Za-z_][\w-]*)"
    r")"
)
_INTERP = re.compile(r"\$\{((?:[^{}]|\{[^{}]*\})*)\}")


def _expressions(value: Any) -> list[str]:
    """The expression text inside a python-hcl2 value (skipping plain string literals)."""
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("__is_block__", "__comments__"):
                continue
            out += _expressions(v)
    elif isinstance(value, list):
        for v in value:
            out += _expressions(v)
    elif isinstance(value, str):
        if value.startswith('"'):
            out += [m.group(1) for m in _INTERP.finditer(value)]
        else:
            out.append(value)
    return out


def _strip_strings(expr: str) -> str:
    """Drop quoted string contents (but keep their interpolations) so prose is not read as references."""
    result, i = [], 0
    while i < len(expr):
        ch = expr[i]
        if ch == '"':
            j = i + 1
            buf = []
            while j < len(expr) and expr[j] != '"':
                if expr[j] == "\\":
                    j += 2
                    continue
                if expr.startswith("${", j):
                    depth, k = 0, j
                    while k < len(expr):
                        if expr[k] == "{":
                            depth += 1
                        elif expr[k] == "}":
                            depth -= 1
                            if depth == 0:
                                break
                        k += 1
                    buf.append(" " + expr[j + 2 : k] + " ")
                    j = k + 1
                    continue
                j += 1
            result.append(" ".join(buf))
            i = j + 1
        else:
            result.append(ch)
            i += 1
    return "".join(result)


_TEMPLATE_TOKEN = re.compile(r"\$\$\{|%%\{|\$\{\s*([^}]*?)\s*\}|%\{")
_TEMPLATEFILE = re.compile(r"templatefile\(\s*\"(?P<path>[^\"]*)\"\s*,\s*\{(?P<body>.*?)\}\s*\)", re.S)


class _Stack:
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
                self.docs[name] = hcl2.loads(text)
            except Exception as exc:  # python-hcl2 raises lark errors of several kinds
                self.syntax_problems.append(f"{name}: python-hcl2: {_lark_message(exc)}")
        for name in ("cloud-init.yaml", "schema.yaml"):
            if name not in self.text:
                continue  # a missing file is reported by the check that needs it
            try:
                _load_yaml(self.text[name])
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
                    out[_label(name)] = body
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
            data = _load_yaml(self.text.get("cloud-init.yaml", "")) or {}
        except yaml.YAMLError:
            return {}
        return data if isinstance(data, dict) else {}

    def written_file(self, path: str) -> str | None:
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

    # -- 1. syntax -----------------------------------------------------------
    def check_syntax(self) -> CheckResult:
        if self.syntax_problems:
            bad = {p.split(":", 1)[0] for p in self.syntax_problems}
            return CheckResult("syntax", FAIL, f"{len(bad)} file(s) do not parse", self.syntax_problems)
        return CheckResult("syntax", PASS, f"{len(self.tf)} .tf files parse with python-hcl2 and HashiCorp's parser; YAML files parse")

    # -- 2. references -------------------------------------------------------
    def check_references(self) -> CheckResult:
        variables = set(self.variables())
        local_names = set(self.locals())
        data = {(t, n) for _, t, n, _ in self.all_blocks("data")}
        resources = {(t, n) for _, t, n, _ in self.all_blocks("resource")}
        problems: list[str] = []
        used_vars: set[str] = set()
        for fname, doc in self.docs.items():
            # A variable's own validation block names it without using it.
            in_variables = set(_expressions(doc.get("variable", [])))
            for expr in _expressions(doc):
                for m in _REF.finditer(_strip_strings(expr)):
                    where = f"{fname}:{_line_in(self.tf[fname], m.group(0))}"
                    if m.group("var"):
                        name = m.group("var_name")
                        if expr not in in_variables:
                            used_vars.add(name)
                        if name not in variables:
                            problems.append(f"{where}: var.{name} is not declared{did_you_mean(name, variables)}; add a variable block or fix the name")
                    elif m.group("local"):
                        name = m.group("local_name")
                        if name not in local_names:
                            problems.append(f"{where}: local.{name} is not defined{did_you_mean(name, local_names)}")
                    elif m.group("data_type"):
                        key = (m.group("data_type"), m.group("data_name"))
                        if key not in data:
                            problems.append(f"{where}: data.{key[0]}.{key[1]} is not declared{did_you_mean('.'.join(key), ['.'.join(d) for d in data])}")
                    elif m.group("res_type"):
                        key = (m.group("res_type"), m.group("res_name"))
                        if key[0] in ("path", "terraform", "count", "each", "self"):
                            continue
                        if key not in resources:
                            problems.append(f"{where}: {key[0]}.{key[1]} is not declared{did_you_mean('.'.join(key), ['.'.join(r) for r in resources])}")
        for name in sorted(variables - used_vars - set(AUTO_FILLED)):
            problems.append(f"variables.tf: variable {name!r} is declared but never used; remove it or use it")
        problems += self._templatefile_problems()
        if problems:
            return CheckResult("references", FAIL, f"{len(problems)} unresolved or unused name(s)", problems)
        return CheckResult(
            "references", PASS,
            f"{len(variables)} variables, {len(local_names)} locals, {len(data)} data sources, {len(resources)} resources: all resolve; templatefile() vars match",
        )

    def _templatefile_problems(self) -> list[str]:
        problems = []
        for fname, text in self.tf.items():
            for m in _TEMPLATEFILE.finditer(text):
                target = m.group("path").replace("${path.module}/", "")
                passed = set(re.findall(r"^\s*([A-Za-z_]\w*)\s*=", m.group("body"), re.M))
                if target not in self.text:
                    problems.append(f"{fname}: templatefile() reads {target}, which is not in the stack")
                    continue
                used = {t.group(1) for t in _TEMPLATE_TOKEN.finditer(self.text[target]) if t.group(1)}
                for name in sorted(used - passed):
                    problems.append(f"{target}: placeholder ${{{name}}} has no value in templatefile() in {fname}{did_you_mean(name, passed)}; pass {name} = ... or remove the placeholder")
                for name in sorted(passed - used):
                    problems.append(f"{fname}: templatefile() passes {name!r}, which {target} never uses")
        return problems

    # -- 3. provider schema --------------------------------------------------
    def check_provider_schema(self) -> CheckResult:
        from . import provider_schema

        found = provider_schema.check(self.docs)
        version = provider_schema.snapshot_version()
        if found:
            return CheckResult("provider schema", FAIL, f"{len(found)} problem(s) against {version}", [_schema_problem_text(p) for p in found])
        n = len(self.all_blocks("resource")) + len(self.all_blocks("data"))
        return CheckResult("provider schema", PASS, f"{n} resources and data sources match {version}")

    # -- 4. ports ------------------------------------------------------------
    def livekit_settings(self) -> dict[str, Any] | None:
        text = self.written_file(LIVEKIT_PATH)
        if text is None:
            return None
        try:
            data = _load_yaml(text)
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
        script = self.written_file(FIREWALL_PATH)
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

    def check_ports(self, config: StackConfig | None) -> CheckResult:
        lk = self.livekit_settings()
        if lk is None:
            return CheckResult("port policy", FAIL, f"cloud-init.yaml writes no {LIVEKIT_PATH}: cannot derive what LiveKit needs", [
                f"add {LIVEKIT_PATH} to write_files in cloud-init.yaml (flowstack generate writes it)"])
        sl = self.security_list_rules()
        declared = _declared_extras(config, sl)
        try:
            wanted = policy_from_livekit(lk, declared)
        except LiveKitSettingsError as exc:
            return CheckResult("port policy", FAIL, "LiveKit would refuse these settings", [f"livekit.yaml: {exc}"])
        problems: list[str] = []
        want_keys = {r.key: r for r in wanted}
        have_keys = {r.key: r for r in sl}
        for key, r in want_keys.items():
            if key not in have_keys:
                problems.append(f"security list: {r.ports}/{r.protocol} from {_src(r.source)} is missing ({r.who}: {r.why}); add an ingress rule")
        _, local = livekit_needs(lk)
        local_ports = {(x.protocol, x.low) for x in local}
        for key, r in have_keys.items():
            if key in want_keys:
                continue
            if (r.protocol, r.low) in local_ports or (r.protocol, r.low) == ("tcp", _socket_port(self)):
                problems.append(
                    f"security list: {r.ports}/{r.protocol} is open to {_src(r.source)} but is only reached through Caddy on the host; remove the rule"
                )
            elif r.protocol == "tcp" and r.low <= 22 <= r.high and r.source != SSH_SOURCE:
                problems.append(f"security list: SSH (22/tcp) is open to {_src(r.source)}; use source = var.ssh_source_cidr")
            else:
                problems.append(
                    f"security list: {r.ports}/{r.protocol} from {_src(r.source)} is open but nothing in the policy needs it; remove it or declare it in extra_ports with a reason"
                )
        host = self.firewall_rules()
        if host is None:
            problems.append(f"cloud-init.yaml writes no {FIREWALL_PATH}: OCI's Ubuntu images REJECT every port not allowed on the host")
        else:
            want_host = {(r.protocol, r.low, r.high) for r in host_rules(wanted)}
            have_host = {(r.protocol, r.low, r.high) for r in host}
            for proto, low, high in sorted(want_host - have_host):
                problems.append(f"host firewall: {_ports(low, high)}/{proto} is not opened before OCI's REJECT rule; add it to the firewall script")
            for proto, low, high in sorted(have_host - want_host):
                problems.append(f"host firewall: {_ports(low, high)}/{proto} is opened but not in the policy; remove it")
        if problems:
            return CheckResult("port policy", FAIL, f"security list and host firewall differ from the {len(wanted)}-rule policy", problems)
        return CheckResult("port policy", PASS, f"policy, security list and host firewall agree on {len(wanted)} rules")

    def check_livekit_keys(self) -> CheckResult:
        lk = self.livekit_settings()
        if lk is None:
            return CheckResult("livekit settings", SKIP, f"no {LIVEKIT_PATH} in cloud-init.yaml")
        bad = unknown_keys(lk)
        if bad:
            hints = {"turn.tcp_port": " (TURN over TCP is turn.tls_port, with turn.domain; LiveKit never reads turn.tcp_port)"}
            return CheckResult("livekit settings", FAIL, "livekit.yaml has keys LiveKit does not read", [
                f"livekit.yaml: {k} is not a LiveKit setting{hints.get(k, '')}; remove it" for k in bad])
        try:
            compose = _load_yaml(self.written_file("/opt/flowstack/docker-compose.yml") or "") or {}
        except yaml.YAMLError:
            compose = {}  # a broken compose file is another check's finding
        services = compose.get("services") if isinstance(compose, dict) else None
        image = str(((services or {}).get("livekit") or {}).get("image", "")) if isinstance(services, dict) else ""
        old = too_old_for_current_clients(image)
        if old:
            return CheckResult("livekit settings", WARN, "the LiveKit server is too old for current clients", [old])
        return CheckResult("livekit settings", PASS, f"every livekit.yaml key is one LiveKit reads ({len(lk)} top-level keys)")

    # -- 5. always free ------------------------------------------------------
    def _var_default(self, name: str) -> Any:
        body = self.variables().get(name)
        return None if body is None else _unquote(body.get("default"))

    def check_always_free(self, config: StackConfig | None, allow_paid: bool, on: dt.date | None) -> CheckResult:
        shape = None
        for _, typ, _, body in self.all_blocks("resource"):
            if typ == "oci_core_instance":
                shape = _unquote(body.get("shape"))
        ocpus = self._var_default("instance_ocpus")
        mem = self._var_default("instance_memory_gbs")
        boot = self._var_default("boot_volume_gbs")
        if config is not None:
            ocpus, mem, boot, shape = config.instance.ocpus, config.instance.memory_gbs, config.instance.boot_volume_gbs, config.instance.shape
            allow_paid = allow_paid or not config.always_free
        if ocpus is None or mem is None:
            return CheckResult("always free", SKIP, "instance_ocpus / instance_memory_gbs have no defaults to check")
        fails, warns = [], []
        if shape and shape != "VM.Standard.A1.Flex":
            fails.append(f"shape {shape} is not Always Free; use VM.Standard.A1.Flex")
        for reading in limits.in_force(on):
            over = []
            if float(ocpus) > reading.a1_max_ocpus:
                over.append(f"{_n(ocpus)} OCPU > {_n(reading.a1_max_ocpus)}")
            if float(mem) > reading.a1_max_memory_gbs:
                over.append(f"{_n(mem)} GB > {_n(reading.a1_max_memory_gbs)} GB")
            if boot is not None and float(boot) > reading.block_storage_gbs:
                over.append(f"boot volume {_n(boot)} GB > {reading.block_storage_gbs} GB of free block storage")
            if not over:
                continue
            cost = _monthly_overage(float(ocpus), float(mem), reading)
            text = (f"{', '.join(over)} under the Always Free limit from {reading.effective} ({reading.source.split(':')[0]}); "
                    f"running all month would cost about {cost}; lower instance.ocpus / instance.memory_gbs "
                    f"(e.g. {_n(reading.a1_max_ocpus)} / {_n(reading.a1_max_memory_gbs)}) or set always_free: false")
            if reading.verified:
                fails.append(text)
            else:
                warns.append("reported, not verified: " + text)
        if fails and not allow_paid:
            return CheckResult("always free", FAIL, "over the Always Free limits in force", fails + warns)
        if fails or warns:
            status = WARN
            detail = "paid size allowed (always_free: false / --allow-paid)" if fails else "over a reported (unverified) limit"
            return CheckResult("always free", status, detail, fails + warns)
        return CheckResult("always free", PASS, f"{_n(ocpus)} OCPU / {_n(mem)} GB fits every limit reading in force")

    # -- 6. Resource Manager fit ---------------------------------------------
    def check_rm_fit(self) -> CheckResult:
        from .package import zip_bytes

        problems: list[str] = []
        size = len(zip_bytes(self.files))
        if size > ZIP_LIMIT_BYTES:
            problems.append(f"zip is {size:,} bytes, over the console's ~11 MB upload limit (community report, unverified)")
        problems += self._schema_agreement()
        user_data = self._user_data_size()
        if user_data is not None and user_data + SSH_KEY_ALLOWANCE > METADATA_LIMIT_BYTES:
            problems.append(f"user_data is {user_data:,} bytes (gzip+base64) + ~{SSH_KEY_ALLOWANCE} for the SSH key: over OCI's {METADATA_LIMIT_BYTES:,}-byte metadata limit")
        if problems:
            return CheckResult("resource manager fit", FAIL, "the stack will not upload or launch as is", problems)
        if "schema.yaml" not in self.text:
            return CheckResult("resource manager fit", WARN, f"zip {size:,} B; no schema.yaml, so the console shows a plain variable form",
                               ["add schema.yaml (flowstack generate writes one) for pickers and groups"])
        ud = f"user_data {user_data:,} B of {METADATA_LIMIT_BYTES:,}" if user_data is not None else "no user_data"
        return CheckResult("resource manager fit", PASS, f"zip {size:,} B; schema.yaml agrees with variables.tf; {ud}")

    def _schema_agreement(self) -> list[str]:
        if "schema.yaml" not in self.text:
            return []
        try:
            schema = _load_yaml(self.text.get("schema.yaml", "")) or {}
        except yaml.YAMLError:
            return ["schema.yaml does not parse"]
        variables = self.variables()
        problems = []
        svars = schema.get("variables") or {}
        tf_type = {"number": "number", "boolean": "bool", "bool": "bool"}
        for name, spec in svars.items():
            if name not in variables:
                problems.append(f"schema.yaml: variable {name!r} is not in variables.tf{did_you_mean(name, variables)}")
                continue
            want = tf_type.get(str(spec.get("type")), "string")
            have = str(_unquote(variables[name].get("type", "string"))).replace("${", "").replace("}", "")
            if want != have:
                problems.append(f"schema.yaml: {name} has type {spec.get('type')} but variables.tf says {have}")
        grouped = {v for g in schema.get("variableGroups") or [] for v in g.get("variables") or []}
        for name in grouped - set(svars):
            if name not in variables:
                problems.append(f"schema.yaml: group lists {name!r}, which is not in variables.tf")
        for name, body in variables.items():
            if "default" not in body and name not in svars and name not in AUTO_FILLED:
                problems.append(f"variables.tf: {name} has no default and is not in schema.yaml: the console form cannot ask for it")
        return problems

    def _user_data_size(self) -> int | None:
        text = self.text.get("cloud-init.yaml")
        if text is None:
            return None
        # Deploy-time values are unknown here: count each placeholder as a 64-character value.
        filled = _TEMPLATE_TOKEN.sub(lambda m: "x" * 64 if m.group(1) else m.group(0)[1:], text)
        return len(base64.b64encode(gzip.compress(filled.encode(), mtime=0)))

    # -- 7. secrets ----------------------------------------------------------
    def check_secrets(self, config: StackConfig | None) -> CheckResult:
        problems = []
        env_secrets = {k: v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 8}
        for name, text in self.text.items():
            if PRIVATE_KEY_BLOCK.search(text):
                problems.append(f"{name}: contains a private key block; pass keys as sensitive variables at deploy time")
            for env_name, value in env_secrets.items():
                if value in text:
                    problems.append(f"{name}: contains the value of the environment variable {env_name}")
        for fname, doc in self.docs.items():
            problems += [f"{fname}: {p}" for p in _literal_secrets_hcl(doc)]
        lk = self.livekit_settings()
        if lk:
            for key, secret in (lk.get("keys") or {}).items():
                if not (isinstance(secret, str) and re.fullmatch(r"\$\{\s*\w+\s*\}", secret)):
                    problems.append(f"cloud-init.yaml: {LIVEKIT_PATH} holds a literal secret for LiveKit key {key!r}; use the ${{livekit_api_secret}} placeholder (random_password) instead")
        compose = self.written_file("/opt/flowstack/docker-compose.yml")
        if compose:
            for line in compose.splitlines():
                m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*):\s*(\S.*)$", line)
                if m and SECRET_NAME.search(m.group(1)) and "${" not in m.group(2):
                    problems.append(f"cloud-init.yaml: docker-compose.yml sets {m.group(1)} to a literal; list it in socket.secret_env instead")
        if problems:
            return CheckResult("secrets", FAIL, "secret values would ship in the zip", problems)
        return CheckResult("secrets", PASS, "no secret values, private keys or literal secrets in the stack")


def _literal_secrets_hcl(doc: dict[str, Any]) -> list[str]:
    """Attributes with secret-like names set to a string literal (not a variable or resource)."""
    problems: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k.startswith("__"):
                    continue
                key = _unquote(k)
                here = f"{path}.{key}" if path else key
                if isinstance(v, str) and SECRET_NAME.search(key) and v.startswith('"') and "${" not in v and len(v) > 2:
                    problems.append(f"{here} is set to a literal string; use a sensitive variable or random_password")
                walk(v, here)
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    for kind in ("resource", "locals", "output", "module"):
        walk(doc.get(kind, []), kind)
    for entry in doc.get("variable", []) or []:
        for name, body in entry.items():
            default = body.get("default")
            if SECRET_NAME.search(_unquote(name)) and isinstance(default, str) and default not in ('""',):
                problems.append(f"variable {_unquote(name)} has a default value; secrets must have none")
    return problems


def _declared_extras(config: StackConfig | None, security_list: list[PortRule]) -> list[PortRule]:
    if config is not None:
        from .ports import extra_rules

        return extra_rules(config)
    # A stack directory: an extra rule counts as declared when it says why (flowstack writes "extra_ports: <reason>").
    return [r for r in security_list if r.why.startswith("extra_ports: ") and len(r.why) > len("extra_ports: ") + 2]


def _socket_port(stack: _Stack) -> int | None:
    compose = stack.written_file("/opt/flowstack/docker-compose.yml")
    if not compose:
        return None
    try:
        port = ((_load_yaml(compose) or {}).get("services", {}).get("socket", {}).get("environment", {}) or {}).get("PORT")
        return int(port) if port else None
    except (yaml.YAMLError, ValueError, AttributeError):
        return None


def _src(source: str) -> str:
    return "ssh_source_cidr" if source == SSH_SOURCE else ("the internet (0.0.0.0/0)" if source == ANYWHERE else source)


def _ports(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def _n(x: Any) -> str:
    f = float(x)
    return str(int(f)) if f.is_integer() else str(f)


def _monthly_overage(ocpus: float, mem: float, reading: limits.LimitReading) -> str:
    """Roughly what running this size all month costs beyond the free allowance."""
    from .cost import price_book

    book = price_book()
    hours = float(book.hours_per_month)
    ocpu_over = max(0.0, ocpus * hours - reading.a1_ocpu_hours_per_month)
    mem_over = max(0.0, mem * hours - reading.a1_gb_hours_per_month)
    usd = ocpu_over * float(book.a1_ocpu.usd) + mem_over * float(book.a1_memory.usd)
    return f"${usd:,.2f}/month (A1 prices as of {book.a1_ocpu.as_of})"


def _line_in(text: str, token: str) -> int:
    idx = text.find(token)
    return text.count("\n", 0, idx) + 1 if idx >= 0 else 0


def _hashicorp_message(msg: str, name: str) -> str:
    msg = msg.replace("invalid HCL: ", "")
    # pygohcl names its input tmp.hcl; show the real file and keep "line,col" positions.
    first = msg.split(", tmp.hcl:")[0]
    return re.sub(r"^tmp\.hcl:(\d+),(\d+)-\d+: ", r"line \1, column \2: ", first)


def _lark_message(exc: Exception) -> str:
    line, col = getattr(exc, "line", None), getattr(exc, "column", None)
    head = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"line {line}, column {col}: {head}" if line else head


def _schema_problem_text(p: Any) -> str:
    return f"{p.file}: {p.address}{'.' + p.path if getattr(p, 'path', '') else ''}: {p.message}"


# ---------------------------------------------------------------------------
# External tools, when installed


def _write_tmp(files: dict[str, bytes]) -> tempfile.TemporaryDirectory[str]:
    tmp = tempfile.TemporaryDirectory(prefix="flowstack-validate-")
    for name, data in files.items():
        (Path(tmp.name) / name).write_bytes(data)
    return tmp


def external_terraform(files: dict[str, bytes]) -> CheckResult:
    exe = shutil.which("terraform")
    if not exe:
        return CheckResult("terraform validate", SKIP, "not installed (terraform not on PATH)")
    with _write_tmp(files) as d:
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}
        try:
            init = subprocess.run([exe, "init", "-backend=false", "-input=false", "-no-color"], cwd=d, env=env,
                                  capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return CheckResult("terraform validate", SKIP, "terraform init timed out fetching providers (offline?)")
        if init.returncode != 0:
            reason = next((ln.strip() for ln in init.stdout.splitlines() + init.stderr.splitlines() if ln.strip().startswith("Error")), "init failed")
            return CheckResult("terraform validate", SKIP, f"installed, but terraform init could not fetch the providers: {reason}")
        out = subprocess.run([exe, "validate", "-json", "-no-color"], cwd=d, env=env, capture_output=True, text=True, timeout=120)
        try:
            result = json.loads(out.stdout)
        except json.JSONDecodeError:
            return CheckResult("terraform validate", FAIL, "terraform validate printed no JSON", [out.stderr.strip()[:500]])
        if result.get("valid"):
            return CheckResult("terraform validate", PASS, "terraform validate: the configuration is valid")
        diags = [f"{d.get('range', {}).get('filename', '?')}:{d.get('range', {}).get('start', {}).get('line', '?')}: {d.get('summary')}: {d.get('detail', '')}"
                 for d in result.get("diagnostics", [])]
        return CheckResult("terraform validate", FAIL, f"{result.get('error_count', len(diags))} error(s)", diags)


def checkov_executable() -> str | None:
    """Checkov lives in its own virtualenv (its hcl2 shadows python-hcl2): FLOWSTACK_CHECKOV, .venv-checkov, or PATH."""
    candidates = [os.environ.get("FLOWSTACK_CHECKOV"), str(Path(__file__).resolve().parent.parent / ".venv-checkov" / "bin" / "checkov"), shutil.which("checkov")]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def external_checkov(files: dict[str, bytes]) -> CheckResult:
    exe = checkov_executable()
    if not exe:
        return CheckResult("checkov", SKIP, "not installed (set FLOWSTACK_CHECKOV or run `make checkov`)")
    with _write_tmp({k: v for k, v in files.items() if k.endswith(".tf")}) as d:
        out = subprocess.run([exe, "-d", d, "--framework", "terraform", "-o", "json", "--quiet", "--compact", "--skip-download"],
                             capture_output=True, text=True, timeout=300)
    try:
        data = json.loads(out.stdout or "{}")
    except json.JSONDecodeError:
        return CheckResult("checkov", FAIL, "checkov printed no JSON", [(out.stderr or out.stdout).strip()[:500]])
    reports = data if isinstance(data, list) else [data]
    failed = [c for r in reports for c in (r.get("results", {}) or {}).get("failed_checks", [])]
    summary = [r.get("summary", {}) for r in reports]
    passed = sum(s.get("passed", 0) for s in summary)
    if failed:
        return CheckResult("checkov", FAIL, f"{len(failed)} failed check(s)", [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed])
    return CheckResult("checkov", PASS, f"0 failed, {passed} passed")


