"""Checks 5-6: the Always Free limits in force, and what Resource Manager accepts (zip size, user_data, form).

>>> check_rm_fit(Stack({"main.tf": b""})).check  # doctest: +SKIP
'resource manager fit'
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import re
from typing import Any

import yaml

from generator.config.schema import StackConfig
from generator.core import limits
from generator.core.contract import AUTO_FILLED
from generator.core.errors import did_you_mean
from generator.core.files import zip_bytes
from generator.core.hcl import unquote as _unquote
from generator.core.prices import price_book
from generator.core.yamlio import load_yaml

from .report import FAIL, PASS, SKIP, WARN, CheckResult
from .stack import TEMPLATE_TOKEN, Stack

# Console upload limit for a stack zip: about 11 MB (community report, not verified).


ZIP_LIMIT_BYTES = 11 * 1024 * 1024


# OCI LaunchInstanceDetails: metadata + extended_metadata at most 32,000 bytes.


METADATA_LIMIT_BYTES = 32_000


# An RSA-4096 OpenSSH public key is ~750 bytes; budget for a long one plus the JSON around it.


SSH_KEY_ALLOWANCE = 1_000


def check_always_free(stack: Stack, config: StackConfig | None, allow_paid: bool, on: dt.date | None) -> CheckResult:
    shape = None
    for _, typ, _, body in stack.all_blocks("resource"):
        if typ == "oci_core_instance":
            shape = _unquote(body.get("shape"))
    ocpus = stack.var_default("instance_ocpus")
    mem = stack.var_default("instance_memory_gbs")
    boot = stack.var_default("boot_volume_gbs")
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
def check_rm_fit(stack: Stack, zipped: bytes | None = None) -> CheckResult:
    problems: list[str] = []
    size = len(zipped if zipped is not None else zip_bytes(stack.files))
    if size > ZIP_LIMIT_BYTES:
        problems.append(f"zip is {size:,} bytes, over the console's ~11 MB upload limit (community report, unverified)")
    problems += _schema_agreement(stack)
    user_data, bundle = _user_data_size(stack), bundle_size(stack)
    total = (user_data or 0) + (bundle or 0) + SSH_KEY_ALLOWANCE
    if user_data is not None and total > METADATA_LIMIT_BYTES:
        problems.append(f"instance metadata is ~{total:,} bytes: user_data {user_data:,} + config bundle {bundle or 0:,} (gzip+base64) "
                        f"+ ~{SSH_KEY_ALLOWANCE} for the SSH key, over OCI's {METADATA_LIMIT_BYTES:,}-byte limit for metadata + extended_metadata; "
                        "make the sample app or secret env smaller, or use socket.image / socket.git")
    if problems:
        return CheckResult("resource manager fit", FAIL, "the stack will not upload or launch as is", problems)
    if "schema.yaml" not in stack.text:
        return CheckResult("resource manager fit", WARN, f"zip {size:,} B; no schema.yaml, so the console shows a plain variable form",
                           ["add schema.yaml (flowstack generate writes one) for pickers and groups"])
    ud = f"metadata ~{total:,} B of {METADATA_LIMIT_BYTES:,} (user_data {user_data:,}, bundle {bundle or 0:,})" if user_data is not None else "no user_data"
    return CheckResult("resource manager fit", PASS, f"zip {size:,} B; schema.yaml agrees with variables.tf; {ud}")


def _schema_agreement(stack: Stack) -> list[str]:
    if "schema.yaml" not in stack.text:
        return []
    try:
        schema = load_yaml(stack.text.get("schema.yaml", "")) or {}
    except yaml.YAMLError:
        return ["schema.yaml does not parse"]
    variables = stack.variables()
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
    problems += _range_agreement(svars, variables)
    grouped = {v for g in schema.get("variableGroups") or [] for v in g.get("variables") or []}
    for name in grouped - set(svars):
        if name not in variables:
            problems.append(f"schema.yaml: group lists {name!r}, which is not in variables.tf")
    for name, body in variables.items():
        if "default" not in body and name not in svars and name not in AUTO_FILLED:
            problems.append(f"variables.tf: {name} has no default and is not in schema.yaml: the console form cannot ask for it")
    return problems


_RANGE = re.compile(r"^\$\{var\.(\w+) >= ([0-9.]+) && var\.\1 <= ([0-9.]+)\}$")


def _range_agreement(svars: dict[str, Any], variables: dict[str, dict[str, Any]]) -> list[str]:
    """The form's minimum/maximum equal the variable's `validation` range (both come from one model)."""
    problems = []
    for name, spec in svars.items():
        checks = (variables.get(name) or {}).get("validation") or []
        for check in checks if isinstance(checks, list) else [checks]:
            m = _RANGE.match(str(check.get("condition", "")))
            if m and (float(m[2]), float(m[3])) != (float(spec.get("minimum", "nan")), float(spec.get("maximum", "nan"))):
                problems.append(f"schema.yaml: {name} allows {spec.get('minimum')}..{spec.get('maximum')} but variables.tf validates {m[2]}..{m[3]}")
    return problems


def _user_data_size(stack: Stack) -> int | None:
    text = stack.text.get("cloud-init.yaml")
    if text is None:
        return None
    # Deploy-time values are unknown here: count each placeholder as a 64-character value.
    filled = TEMPLATE_TOKEN.sub(lambda m: "x" * 64 if m.group(1) else m.group(0)[1:], text)
    return len(base64.b64encode(gzip.compress(filled.encode(), mtime=0)))


# Each file entry's JSON keys and a 64-hex sha256, as bundle.tf adds them around the content.
_ENTRY_OVERHEAD = '{"content":"","encoding":"text","mode":"0644","path":"","service":"socket-build","sha256":""},'


def _noise(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def bundle_size(stack: Stack) -> int | None:
    """The config bundle's metadata value size (gzip+base64 of its JSON), estimated from the
    bundle/ templates with each placeholder as a 64-character value; None without a bundle.

    Example: ``bundle_size(Stack({"main.tf": b""}))`` -> ``None``.
    """
    entries = stack.bundle_entries()
    if not entries:
        return None
    parts = []
    for i, e in enumerate(entries):
        text = stack.text.get(str(e.get("source")), "")
        # Secrets and hashes do not compress: stand-ins are random-looking hex, not "xxxx".
        filled = TEMPLATE_TOKEN.sub(lambda m: _noise(m.group(0)) if m.group(1) else m.group(0)[1:], text)
        parts.append(json.dumps({"path": e.get("path"), "content": filled}) + _ENTRY_OVERHEAD + _noise(str(i)))
    doc = '{"apply_at":"00:00","digest":"' + _noise("digest") + '","files":[' + ",".join(parts) + '],"format":1}'
    # Terraform's jsonencode writes <, > and & as \u003c, \u003e, \u0026 (Go's JSON encoder), and
    # its gzip packs about as tightly as level 6 here.
    doc = doc.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return len(base64.b64encode(gzip.compress(doc.encode(), compresslevel=6, mtime=0)))


def _n(x: Any) -> str:
    f = float(x)
    return str(int(f)) if f.is_integer() else str(f)


def _monthly_overage(ocpus: float, mem: float, reading: limits.LimitReading) -> str:
    """Roughly what running this size all month costs beyond the free allowance."""
    book = price_book()
    hours = float(book.hours_per_month)
    ocpu_over = max(0.0, ocpus * hours - reading.a1_ocpu_hours_per_month)
    mem_over = max(0.0, mem * hours - reading.a1_gb_hours_per_month)
    usd = ocpu_over * float(book.a1_ocpu.usd) + mem_over * float(book.a1_memory.usd)
    return f"${usd:,.2f}/month (A1 prices as of {book.a1_ocpu.as_of})"
