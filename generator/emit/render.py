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
from generator.derive.derived import Derived, derive
from generator.derive.hostnames import host_expressions, public_ip_expression  # noqa: F401 - their old home, still imported from here
from generator.emit.bundle import render_bundle
from generator.emit.cloudinit import cloud_init_source, render_cloud_init, server_files
from generator.emit.schema_form import render_schema
from generator.scale.server import render_scale_tf

# Order of files in the stack (and in the zip): stable, so builds are byte-identical.
STACK_FILES = ("main.tf", "variables.tf", "outputs.tf", "cloud-init.yaml", "schema.yaml")
# Files only some stacks have, each after the file it follows: alerts.tf holds the opt-in
# budget and traffic alarm (config `budget` / `traffic_alarm`).
OPTIONAL_STACK_FILES = {"alerts.tf": "outputs.tf", "scale.tf": "outputs.tf"}
# Calendar days in an average month (365.25 / 12, rounded): turns a monthly allowance into a daily pace.
DAYS_PER_MONTH = Decimal("30.44")


def render_stack(config: StackConfig, on: dt.date | None = None) -> dict[str, bytes]:
    """Every file of the Resource Manager stack, in `STACK_FILES` order."""
    return emit_stack(derive(config, on))


def emit_stack(d: Derived) -> dict[str, bytes]:
    """The stack's files from the derived facts: one emitter per artefact, nothing derived again.
    The server file set is emitted once; cloud-init's boot-only files and the bundle both come from it."""
    config = d.config
    server = server_files(d)
    source = cloud_init_source(d, server)
    ctx = {
        "m": d.model,
        "c": config,
        "rules": d.rules,
        "template_vars": boot_template_vars(d, source),
        "bundle_key": BUNDLE_METADATA_KEY,
        "secret_env": list(d.secret_env),
        "image_regex": image_name_regex(config.instance.image.version),
        "dns_label": dns_label(config.name),
        "dns_records": dns_records_expression(d),
        "hosts": d.hosts,
        "public_ip": d.public_ip,
    }
    files = {
        "main.tf": render_template("main.tf.j2", **ctx),
        "variables.tf": render_template("variables.tf.j2", **ctx),
        "outputs.tf": render_template("outputs.tf.j2", **ctx),
        "cloud-init.yaml": render_cloud_init(d, source),
        "schema.yaml": render_schema(d.model),
    }
    if config.budget.enabled or config.traffic_alarm.enabled:
        files["alerts.tf"] = render_template("alerts.tf.j2", **ctx, traffic=traffic_pace(d.on))
    if config.scale.scaled:  # nodes 2..N, the load balancer, Redis's password (generator/scale/)
        files["scale.tf"] = render_scale_tf(config)
    # bundle.tf, bundle/manifest.json, bundle/<file>: after the rest
    bundle = render_bundle(d, server)
    ordered = {name: files[name] for name in stack_file_order() if name in files} | bundle
    return {name: text.encode("utf-8") for name, text in ordered.items()}


def boot_template_vars(d: Derived, source: str) -> dict[str, str]:
    """The template variables user_data (boot-only) uses, from its ``source`` (`cloud_init_source`);
    the bundle's files take the rest in bundle.tf.

    Example: ``"livekit_api_secret" in boot_template_vars(d, cloud_init_source(d))`` -> ``False``.
    """
    used = set(PLACEHOLDER_RE.findall(source))
    return {name: expr for name, expr in d.template_expressions.items() if name in used}


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


def dns_records_expression(d: Derived) -> str:
    config, hosts = d.config, d.hosts
    turn = config.domains.turn_host or (config.domains.auto and d.turn_tls)
    keys = ["socket_host", "livekit_host"] + (["turn_host"] if turn else [])
    if config.domains.auto:
        return "[" + ", ".join(f'"{hosts[k]}"' for k in keys) + "]"
    # Several nodes: the shared names point at the load balancer, not at node 1.
    ip = "oci_core_public_ip.nlb.ip_address" if config.scale.scaled else d.public_ip
    items = ", ".join(f'"{hosts[k]} A ${{{ip}}}"' for k in keys)
    return f"[{items}]"
