"""Rendering: config -> model -> ``{path: bytes}``, all in memory.

Writing to disk and zipping are separate steps (`package`), so a dry run, `validate`
and `preview` all work on the same in-memory result.  One Jinja environment factory
holds every filter; templates get values only through those filters.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from generator.config.schema import StackConfig
from generator.core import limits
from generator.core.contract import BUNDLE_METADATA_KEY, PLACEHOLDER_RE
from generator.core.templating import render_template
from generator.derive import autodomain
from generator.derive.model import build_model, secret_env_lines, template_variable_expressions
from generator.emit.bundle import render_bundle
from generator.emit.cloudinit import cloud_init_source, render_cloud_init
from generator.emit.schema_form import render_schema

# Order of files in the stack (and in the zip): stable, so builds are byte-identical.
STACK_FILES = ("main.tf", "variables.tf", "outputs.tf", "cloud-init.yaml", "schema.yaml")
# Files only some stacks have, each after the file it follows: alerts.tf holds the opt-in
# budget and traffic alarm (config `budget` / `traffic_alarm`).
OPTIONAL_STACK_FILES = {"alerts.tf": "outputs.tf"}
# Calendar days in an average month (365.25 / 12, rounded): turns a monthly allowance into a daily pace.
DAYS_PER_MONTH = Decimal("30.44")


def render_stack(config: StackConfig, on: dt.date | None = None) -> dict[str, bytes]:
    """Every file of the Resource Manager stack, in `STACK_FILES` order."""
    model = build_model(config, on)
    cloud_init = cloud_init_source(config)
    ctx = {
        "m": model,
        "c": config,
        "template_vars": boot_template_vars(config, cloud_init),
        "bundle_key": BUNDLE_METADATA_KEY,
        "secret_env": secret_env_lines(config),
        "image_regex": image_name_regex(config.instance.image.version),
        "dns_label": dns_label(config.name),
        "dns_records": dns_records_expression(config),
        "hosts": host_expressions(config),
        "public_ip": public_ip_expression(config),
    }
    files = {
        "main.tf": render_template("main.tf.j2", **ctx),
        "variables.tf": render_template("variables.tf.j2", **ctx),
        "outputs.tf": render_template("outputs.tf.j2", **ctx),
        "cloud-init.yaml": render_cloud_init(config, cloud_init),
        "schema.yaml": render_schema(model),
    }
    if config.budget.enabled or config.traffic_alarm.enabled:
        files["alerts.tf"] = render_template("alerts.tf.j2", **ctx, traffic=traffic_pace(on))
    bundle = render_bundle(config)  # bundle.tf, bundle/manifest.json, bundle/<file>: after the rest
    ordered = {name: files[name] for name in stack_file_order() if name in files} | bundle
    return {name: text.encode("utf-8") for name, text in ordered.items()}


def boot_template_vars(config: StackConfig, source: str | None = None) -> dict[str, str]:
    """The template variables user_data (boot-only) uses; the bundle's files take the rest in bundle.tf.

    ``source`` is `cloud_init_source(config)` when the caller has it already (it is the
    slowest part of a render). Example: ``"livekit_api_secret" in boot_template_vars(config)`` -> ``False``.
    """
    used = set(PLACEHOLDER_RE.findall(source if source is not None else cloud_init_source(config)))
    return {name: expr for name, expr in template_variable_expressions(config).items() if name in used}


def stack_file_order() -> tuple[str, ...]:
    """`STACK_FILES` with each optional file right after the one it follows."""
    order: list[str] = []
    for name in STACK_FILES:
        order.append(name)
        order += [opt for opt, after in OPTIONAL_STACK_FILES.items() if after == name]
    return tuple(order)


def traffic_pace(on: dt.date | None = None) -> dict[str, object]:
    """The traffic alarm's thresholds, from the free outbound allowance in force on ``on``.

    The strictest reading in force counts (a verified one when they tie). Terabytes are
    decimal (10^12 bytes), the smaller reading of "TB", so the alarm errs early.
    """
    reading = min(limits.in_force(on), key=lambda r: (r.outbound_tb_per_month, not r.verified, -r.effective.toordinal()))
    per_month = Decimal(str(reading.outbound_tb_per_month)) * 10**12
    per_day = per_month / DAYS_PER_MONTH
    levels = [
        {"key": key, "percent": pct, "severity": severity, "bytes": int(per_day * pct / 100)}
        for key, pct, severity in (("traffic_warning", 80, "WARNING"), ("traffic_critical", 100, "CRITICAL"))
    ]
    return {"reading": reading, "per_month": int(per_month), "per_day": int(per_day), "days": DAYS_PER_MONTH, "levels": levels}


def image_name_regex(version: str) -> str:
    """Matches Canonical's standard images for ``version`` (x86_64 or aarch64), not Minimal ones."""
    return "^Canonical-Ubuntu-" + version.replace(".", "\\.") + "-(aarch64-)?[0-9]{4}\\."


def dns_label(name: str) -> str:
    """A VCN DNS label: letters and digits, starting with a letter, at most 15 characters."""
    return "".join(ch for ch in name if ch.isalnum())[:15]


def public_ip_expression(config: StackConfig) -> str:
    """The Terraform expression of the server's public address: the reserved IP's, or (with
    ``network.reserved_ip: false``) the instance's ephemeral one. Everything that names the
    address (outputs, DNS records, sslip.io names) uses this one expression.

    >>> public_ip_expression(StackConfig.model_validate({"name": "demo"}))  # doctest: +SKIP
    'oci_core_public_ip.server.ip_address'
    """
    return "oci_core_public_ip.server.ip_address" if config.network.reserved_ip else "oci_core_instance.server.public_ip"


def host_expressions(config: StackConfig) -> dict[str, str]:
    """Each host name as HCL string-template text: the variable, or (auto domains) the sslip.io
    name derived from the instance's IP, read after apply, so there is no cycle."""
    if not config.domains.auto:
        return {h: f"${{var.{h}}}" for h in ("socket_host", "livekit_host", "turn_host")}
    label = f'${{replace({public_ip_expression(config)}, ".", "-")}}'
    return {key: f"{prefix}.{label}.{autodomain.SSLIP_SUFFIX}" for key, prefix in autodomain.DEFAULT_PREFIXES.items()}


def dns_records_expression(config: StackConfig) -> str:
    turn = config.domains.turn_host or (config.domains.auto and config.livekit.turn.enabled and config.livekit.turn.tls_port)
    hosts = host_expressions(config)
    keys = ["socket_host", "livekit_host"] + (["turn_host"] if turn else [])
    if config.domains.auto:
        return "[" + ", ".join(f'"{hosts[k]}"' for k in keys) + "]"
    items = ", ".join(f'"{hosts[k]} A ${{{public_ip_expression(config)}}}"' for k in keys)
    return f"[{items}]"
