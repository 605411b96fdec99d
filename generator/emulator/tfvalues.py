"""Plausible values for what a made-up Terraform run reports: OCIDs, addresses, secrets, outputs.

Every value is derived from a hash of the stack and the resource or output it is for, so
the same stack gets the same values on every run and on every restart.

>>> public_ip("stack", "server").startswith("146.56.")
True
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .tfconfig import Output, TfConfig, unquote


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
            return "map", json.dumps({unquote(k): self.value(v, out.name) for k, v in value.items() if k != "__is_block__"})
        if isinstance(value, str) and _IP_NAME.search(out.name.lower()) and not _is_template(value):
            # An output called *ip* is an address whatever the expression looks like.
            result = str(self.value(value, out.name))
            if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", result):
                private = "private" in out.name.lower()
                result = private_ip(self.stack_id, out.name) if private else public_ip(self.stack_id, out.name)
            return "string", result
        if out.sensitive and not _is_template(value):
            return "string", secret_like(self.stack_id, out.name, *self.keepers(str(value)))
        return "string", str(self.value(value, out.name))

    def value(self, value: Any, hint: str) -> Any:
        if not isinstance(value, str):
            return value
        if value.startswith("${") and value.endswith("}") and value.count("${") == 1:
            return self.expression(value[2:-1], hint)
        text = unquote(value)
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
                return secret_like(self.stack_id, base, *self.keepers(base))
            return re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-") or "value"
        finally:
            self._depth -= 1

    def keepers(self, expression: str) -> list[str]:
        """The ``keepers`` of the resources ``expression`` names: new keepers, new secret (as
        hashicorp/random replaces the resource); none, the same value as before."""
        return [r.keepers for r in self.config.resources if r.keepers and re.search(rf"\b{re.escape(r.address)}\b", expression)]

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
