"""What a Terraform run in Resource Manager would print and produce, made up from a zip.

Nothing is provisioned.  The zip's ``.tf`` files are parsed (HashiCorp's parser through
pygohcl for syntax, python-hcl2 for structure) to find the resources, variables, locals
and outputs; a job then becomes a *script*: log lines at fixed offsets from the job's
start, each possibly marking a resource as created or destroyed, plus the final state.
The server shows the lines whose offset has passed, so a job's log grows while it runs
and a restarted server picks up where it was, from the recorded start time alone.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import hcl2
import pygohcl  # HashiCorp hcl v2 via Go: the messages Terraform itself would give

# Resource Manager's provider and Terraform builds the log claims to run.  Cosmetic: the
# emulator runs neither.
PROVIDER_VERSION = "7.19.0"
TERRAFORM_BUILDS = {
    "1.5.x": "1.5.7",
    "1.2.x": "1.2.9",
    "1.1.x": "1.1.9",
    "1.0.x": "1.0.11",
    "0.14.x": "0.14.11",
    "0.13.x": "0.13.7",
    "0.12.x": "0.12.31",
}
DEFAULT_TERRAFORM_VERSION = "1.5.x"

# Variables Resource Manager fills in itself (facts §5).
AUTO_VARIABLES = ("tenancy_ocid", "compartment_ocid", "region", "current_user_ocid")

# Creation order: the network first, instances last, so a capacity failure leaves the
# network created, as a real partial apply does.
_ORDER = {
    "oci_core_vcn": 1,
    "oci_core_internet_gateway": 2,
    "oci_core_nat_gateway": 2,
    "oci_core_service_gateway": 2,
    "oci_core_route_table": 3,
    "oci_core_security_list": 3,
    "oci_core_network_security_group": 3,
    "oci_core_network_security_group_security_rule": 4,
    "oci_core_subnet": 5,
    "oci_core_instance": 8,
}

LOG_TYPE = "TERRAFORM_CONSOLE"


@dataclass
class Resource:
    address: str
    type: str
    name: str
    file: str
    line: int


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


@dataclass
class ScriptLine:
    offset_ms: int
    level: str
    message: str
    effect: list[str] | None = None  # ["create"|"destroy", address]

    def to_json(self) -> list[Any]:
        return [self.offset_ms, self.level, self.message, self.effect]

    @classmethod
    def from_json(cls, data: list[Any]) -> ScriptLine:
        return cls(int(data[0]), str(data[1]), str(data[2]), data[3])


@dataclass
class JobPlan:
    """A job's whole future: its log script and how it ends."""

    script: list[ScriptLine]
    duration_ms: int
    accepted_ms: int
    state: str  # SUCCEEDED or FAILED
    failure: dict[str, str] | None
    outputs: list[dict[str, Any]]


# --------------------------------------------------------------------------- zip parsing


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


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


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
            kind = _unquote(kind)
            for name, body in named.items():
                name = _unquote(name)
                line = _line_of(text, rf'^resource\s+"{re.escape(kind)}"\s+"{re.escape(name)}"')
                count = body.get("count") if isinstance(body, dict) else None
                if isinstance(count, int) and not isinstance(count, bool):
                    config.resources += [Resource(f"{kind}.{name}[{i}]", kind, name, filename, line) for i in range(count)]
                else:
                    config.resources.append(Resource(f"{kind}.{name}", kind, name, filename, line))
    for block in doc.get("variable", []):
        for name, body in block.items():
            name = _unquote(name)
            body = body if isinstance(body, dict) else {}
            config.variables[name] = Variable(
                name, "default" in body, _unquote(body.get("default")), filename,
                _line_of(text, rf'^variable\s+"{re.escape(name)}"'),
            )
    for block in doc.get("locals", []):
        for name, value in block.items():
            if name != "__is_block__":
                config.locals[name] = value
    for block in doc.get("output", []):
        for name, body in block.items():
            body = body if isinstance(body, dict) else {}
            description = _unquote(body.get("description"))
            config.outputs.append(
                Output(_unquote(name), body.get("value"), body.get("sensitive") is True,
                       description if isinstance(description, str) else None)
            )


# --------------------------------------------------------------------------- values


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode()).digest()


def fake_ocid(kind: str, region: str, *seed: str) -> str:
    tail = hashlib.sha256("\x00".join(seed).encode()).hexdigest()[:60]
    return f"ocid1.{kind}.oc1.{region}.amaaaaaa{tail}"


def resource_ocid(resource_type: str, address: str, stack_id: str, region: str) -> str:
    kind = resource_type
    if kind.startswith("oci_"):
        kind = kind.split("_", 2)[-1] if kind.count("_") >= 2 else kind[4:]
    return fake_ocid(kind.replace("_", ""), region, stack_id, address)


def public_ip(*seed: str) -> str:
    d = _digest("public", *seed)
    # 146.56.0.0/16 is an Oracle Cloud ap-chuncheon-1 range: a plausible public address.
    return f"146.56.{d[0]}.{1 + d[1] % 254}"


def private_ip(*seed: str) -> str:
    d = _digest("private", *seed)
    return f"10.0.{d[0] % 4}.{2 + d[1] % 250}"


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def secret_like(*seed: str, length: int = 43) -> str:
    out, counter = "", 0
    while len(out) < length:
        out += "".join(_BASE62[b % 62] for b in _digest(str(counter), *seed))
        counter += 1
    return out[:length]


_IP_NAME = re.compile(r"(^|_)ips?($|_)")


class _Evaluator:
    """Plausible values for output expressions, without running Terraform."""

    def __init__(self, config: TfConfig, variables: dict[str, str], stack_id: str, region: str) -> None:
        self.config, self.variables = config, variables
        self.stack_id, self.region = stack_id, region
        self._depth = 0

    def output(self, out: Output) -> tuple[str, str]:
        """(outputType, outputValue) for one output."""
        value = out.value
        if isinstance(value, bool):
            return "bool", "true" if value else "false"
        if isinstance(value, (int, float)):
            return "number", json.dumps(value)
        if isinstance(value, list):
            return "list", json.dumps([self.value(v, out.name) for v in value])
        if isinstance(value, dict):
            return "map", json.dumps({_unquote(k): self.value(v, out.name) for k, v in value.items() if k != "__is_block__"})
        if isinstance(value, str) and _IP_NAME.search(out.name.lower()) and not _is_template(value):
            # An output called *ip* is an address whatever the expression looks like.
            result = str(self.value(value, out.name))
            if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", result):
                private = "private" in out.name.lower()
                result = private_ip(self.stack_id, out.name) if private else public_ip(self.stack_id, out.name)
            return "string", result
        if out.sensitive and not _is_template(value):
            return "string", secret_like(self.stack_id, out.name)
        return "string", str(self.value(value, out.name))

    def value(self, value: Any, hint: str) -> Any:
        if not isinstance(value, str):
            return value
        if value.startswith("${") and value.endswith("}") and value.count("${") == 1:
            return self.expression(value[2:-1], hint)
        text = _unquote(value)
        return re.sub(r"\$\{([^}]*)\}", lambda m: str(self.expression(m.group(1), hint)), text)

    def expression(self, expr: str, hint: str) -> Any:
        expr = expr.strip()
        self._depth += 1
        try:
            if self._depth > 8:
                return hint
            if m := re.fullmatch(r"var\.(\w+)", expr):
                return self._variable(m.group(1))
            if m := re.fullmatch(r"local\.(\w+)", expr):
                if m.group(1) in self.config.locals:
                    return self.value(self.config.locals[m.group(1)], m.group(1))
                return m.group(1)
            if re.fullmatch(r'"[^"]*"', expr):
                return expr[1:-1]
            base = _strip_index(expr)
            last = base.rsplit(".", 1)[-1].lower()
            if _IP_NAME.search(last):
                return private_ip(self.stack_id, base) if "private" in last else public_ip(self.stack_id, base)
            parts = base.split(".")
            if last == "id" and len(parts) >= 3:
                kind = parts[1] if parts[0] == "data" else parts[0]
                return resource_ocid(kind, ".".join(parts[:-1]), self.stack_id, self.region)
            if last in ("result", "password", "secret"):
                return secret_like(self.stack_id, base)
            return re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-") or "value"
        finally:
            self._depth -= 1

    def _variable(self, name: str) -> str:
        if name in self.variables:
            return self.variables[name]
        var = self.config.variables.get(name)
        if var and var.has_default and var.default is not None:
            return var.default if isinstance(var.default, str) else json.dumps(var.default)
        return name


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and value.startswith('"') and value.endswith('"')


def _strip_index(expr: str) -> str:
    return re.sub(r"\[[^\]]*\]", "", expr)


def job_outputs(config: TfConfig, variables: dict[str, str], stack_id: str, region: str) -> list[dict[str, Any]]:
    """The JobOutputSummary items a SUCCEEDED APPLY of this config reports."""
    evaluator = _Evaluator(config, variables, stack_id, region)
    items = []
    for out in config.outputs:
        output_type, output_value = evaluator.output(out)
        items.append(
            {
                "outputName": out.name,
                "outputType": output_type,
                "outputValue": output_value,
                "isSensitive": out.sensitive,
                "description": out.description,
            }
        )
    return items


def availability_domain(variables: dict[str, str], config: TfConfig, names: tuple[str, ...]) -> int:
    """The AD number a stack launches into, from its variables (AD 1 when unsaid)."""
    for name in names:
        value = variables.get(name)
        if value is None and name in config.variables and config.variables[name].has_default:
            value = config.variables[name].default
        if value is None:
            continue
        match = re.search(r"(\d+)\s*$", str(value))
        if match:
            return int(match.group(1))
    return 1


# --------------------------------------------------------------------------- job scripts


def _order_key(resource: Resource) -> int:
    return _ORDER.get(resource.type, 6)


def _spread(lines: Sequence[tuple[str, str, list[str] | None]], start: int, end: int) -> list[ScriptLine]:
    """Give lines evenly spaced offsets in [start, end]."""
    if not lines:
        return []
    step = (end - start) / max(len(lines) - 1, 1) if len(lines) > 1 else 0
    return [ScriptLine(int(start + i * step), level, msg, effect) for i, (level, msg, effect) in enumerate(lines)]


def _monotonic(script: list[ScriptLine]) -> list[ScriptLine]:
    """Make offsets strictly increase, so every log entry has its own timestamp."""
    last = -1
    for line in script:
        if line.offset_ms <= last:
            line.offset_ms = last + 1
        last = line.offset_ms
    return script


def plan_job(  # noqa: C901 - to split (tests/test_sizes.py DEBT)
    *,
    operation: str,
    job_id: str,
    stack_id: str,
    region: str,
    config: TfConfig,
    variables: dict[str, str],
    applied: list[str],
    terraform_version: str,
    duration_s: float,
    capacity_failure: bool = False,
    injected_failure: dict[str, str] | None = None,
    replace: list[str] | tuple[str, ...] = (),
) -> JobPlan:
    """Write the whole script of one PLAN/APPLY/DESTROY job.

    ``replace`` names existing resources the plan must destroy and create again (the
    ``replace_instance_next`` fault): PLAN says so, APPLY does it.
    """
    duration = max(int(duration_s * 1000), 50)
    accepted = int(min(1000, max(20, duration * 0.1)))
    window = duration - accepted
    init_end = accepted + int(window * 0.2)
    body_end = accepted + int(window * 0.85)

    build = TERRAFORM_BUILDS.get(terraform_version, TERRAFORM_BUILDS[DEFAULT_TERRAFORM_VERSION])
    preamble: list[tuple[str, str, list[str] | None]] = [
        ("INFO", f"Executing {operation} job {job_id} (simulated: the emulator runs no Terraform here)", None),
        ("INFO", f"Terraform v{build}", None),
        ("INFO", "on linux_amd64", None),
        ("INFO", "Initializing the backend...", None),
        ("INFO", "Initializing provider plugins...", None),
        ("INFO", "- Finding latest version of oracle/oci...", None),
        ("INFO", f"- Installing oracle/oci v{PROVIDER_VERSION}...", None),
        ("INFO", f"- Installed oracle/oci v{PROVIDER_VERSION} (signed by a HashiCorp partner)", None),
        ("INFO", "Terraform has been successfully initialized!", None),
    ]
    script = _spread(preamble, accepted, init_end)

    def fail(code: str, error_lines: list[str], body: list[tuple[str, str, list[str] | None]] | None = None) -> JobPlan:
        lines = list(body or [])
        tail = [("ERROR", text, None) for text in error_lines]
        full = script + _spread(lines, init_end + 1, body_end) + _spread(tail, body_end + 1, duration)
        message = "\n".join(error_lines)
        return _finished(full, duration, accepted, "FAILED", {"code": code, "message": message}, [])

    if config.error:
        return fail(config.error[0], config.error[1])
    if operation in ("PLAN", "APPLY"):
        missing = [
            v for v in config.variables.values()
            if not v.has_default and v.name not in variables and v.name not in AUTO_VARIABLES
        ]
        if missing:
            errors: list[str] = []
            for v in missing:
                errors += [
                    "Error: No value for required variable",
                    f'  on {v.file} line {v.line}:',
                    f'The root module input variable "{v.name}" is not set, and has no default value.',
                ]
            return fail("TERRAFORM_EXECUTION_ERROR", errors)

    ids = {r.address: resource_ocid(r.type, r.address, stack_id, region) for r in config.resources}
    wanted = sorted(config.resources, key=_order_key)
    wanted_addresses = [r.address for r in wanted]
    to_add = [r for r in wanted if r.address not in applied]
    to_destroy = [a for a in reversed(applied) if a not in wanted_addresses]
    replaced = [r for r in wanted if r.address in replace and r.address in applied]
    if operation == "DESTROY":
        to_add, to_destroy, replaced = [], list(reversed(applied)), []

    if operation == "PLAN":
        body: list[tuple[str, str, list[str] | None]] = []
        if to_add or to_destroy or replaced:
            body.append(("INFO", "Terraform will perform the following actions:", None))
            body += [("INFO", f"  # {r.address} will be created", None) for r in to_add]
            for r in replaced:
                body += [("INFO", text, None) for text in replacement_lines(r, ids[r.address], stack_id)]
            body += [("INFO", f"  # {a} will be destroyed", None) for a in to_destroy]
            summary = (f"Plan: {len(to_add) + len(replaced)} to add, 0 to change, "
                       f"{len(to_destroy) + len(replaced)} to destroy.")
        else:
            summary = "No changes. Your infrastructure matches the configuration."
        if injected_failure:
            return fail(injected_failure["code"], _failure_lines(injected_failure["message"]), body)
        full = script + _spread(body, init_end + 1, body_end) + _spread([("INFO", summary, None)], duration, duration)
        return _finished(full, duration, accepted, "SUCCEEDED", None, [])

    # APPLY and DESTROY: destroys first (dependents first), then creates in order.
    body = []
    if replaced:
        to_destroy = [*to_destroy, *(r.address for r in reversed(replaced))]
        to_add = sorted([*to_add, *replaced], key=_order_key)
    for address in to_destroy:
        rid = ids.get(address) or fake_ocid("resource", region, stack_id, address)
        body.append(("INFO", f"{address}: Destroying... [id={rid}]", None))
        body.append(("INFO", f"{address}: Destruction complete after 1s", ["destroy", address]))
    failed_at: Resource | None = None
    for resource in to_add:
        body.append(("INFO", f"{resource.address}: Creating...", None))
        if resource.type == "oci_core_instance":
            body.append(("INFO", f"{resource.address}: Still creating... [10s elapsed]", None))
            if capacity_failure:
                failed_at = resource
                break
            body.append(("INFO", f"{resource.address}: Still creating... [20s elapsed]", None))
        took = "31s" if resource.type == "oci_core_instance" else "1s"
        body.append(("INFO", f"{resource.address}: Creation complete after {took} [id={ids[resource.address]}]", ["create", resource.address]))

    if failed_at is not None:
        return fail("TERRAFORM_EXECUTION_ERROR", capacity_error_lines(failed_at, region), body)
    if injected_failure:
        return fail(injected_failure["code"], _failure_lines(injected_failure["message"]), body)

    if operation == "DESTROY":
        tail = [("INFO", f"Destroy complete! Resources: {len(to_destroy)} destroyed.", None)]
        outputs: list[dict[str, Any]] = []
    else:
        tail = [("INFO", f"Apply complete! Resources: {len(to_add)} added, 0 changed, {len(to_destroy)} destroyed.", None)]
        outputs = job_outputs(config, variables, stack_id, region)
        if outputs:
            tail.append(("INFO", "Outputs:", None))
            for item in outputs:
                shown = "<sensitive>" if item["isSensitive"] else (
                    json.dumps(item["outputValue"]) if item["outputType"] == "string" else item["outputValue"]
                )
                tail.append(("INFO", f"{item['outputName']} = {shown}", None))
    full = script + _spread(body, init_end + 1, body_end) + _spread(tail, body_end + 1, duration)
    return _finished(full, duration, accepted, "SUCCEEDED", None, outputs)


def replacement_lines(resource: Resource, rid: str, stack_id: str) -> list[str]:
    """Terraform's plan for a resource whose cloud-init changed: ``-/+``, forced replacement."""
    old_data = secret_like("user_data", stack_id, resource.address, length=24)
    new_data = secret_like("user_data", stack_id, resource.address, "new", length=24)
    return [
        f"  # {resource.address} must be replaced",
        f'-/+ resource "{resource.type}" "{resource.name}" {{',
        f'      ~ id                  = "{rid}" -> (known after apply)',
        "      ~ metadata            = { # forces replacement",
        f'          ~ "user_data"           = "{old_data}..." -> "{new_data}..."',
        "            # (1 unchanged element hidden)",
        "        }",
        f'      ~ public_ip           = "{public_ip(stack_id, resource.address)}" -> (known after apply)',
        "        # (24 unchanged attributes hidden)",
        "    }",
    ]


def _finished(script: list[ScriptLine], duration: int, accepted: int, state: str,
              failure: dict[str, str] | None, outputs: list[dict[str, Any]]) -> JobPlan:
    """Seal a script: unique timestamps, the last line at the very end of the job."""
    script = _monotonic(script)
    script[-1].offset_ms = max(script[-1].offset_ms, duration)
    return JobPlan(script, script[-1].offset_ms, accepted, state, failure, outputs)


def _failure_lines(message: str) -> list[str]:
    lines = [line for line in message.splitlines() if line.strip()] or ["Error"]
    if not lines[0].startswith("Error"):
        lines[0] = f"Error: {lines[0]}"
    return lines


def capacity_error_lines(resource: Resource, region: str) -> list[str]:
    """The provider's error for an A1 launch with no capacity, as Resource Manager logs it."""
    request_id = hashlib.sha256(resource.address.encode()).hexdigest()[:32].upper()
    return [
        "Error: 500-InternalError, Out of host capacity.",
        "Suggestion: The service for this resource encountered an error. Please contact support for help with service: Core Instance",
        "Documentation: https://registry.terraform.io/providers/oracle/oci/latest/docs/resources/core_instance",
        "API Reference: https://docs.oracle.com/iaas/api/#/en/iaas/20160918/Instance/LaunchInstance",
        f"Request Target: POST https://iaas.{region}.oraclecloud.com/20160918/instances",
        f"Provider version: {PROVIDER_VERSION}",
        "Service: Core Instance",
        "Operation Name: LaunchInstance",
        f"OPC request ID: {request_id}",
        f"  with {resource.address},",
        f'  on {resource.file} line {resource.line}, in resource "{resource.type}" "{resource.name}":',
    ]


def cancel_lines(at_ms: int, delay_ms: int) -> list[ScriptLine]:
    return [
        ScriptLine(at_ms, "WARN", "Job cancellation requested.", None),
        ScriptLine(at_ms + delay_ms, "WARN", "Job canceled. Terraform was stopped; the state file may not reflect every change.", None),
    ]
