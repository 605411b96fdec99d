"""Shared by the tfdouble tests: generated stacks, sample variables, a real terraform.

The stacks come from the `flowstack` CLI as a subprocess (its interface stays stable while
the package is restructured); the variables are strings, as Resource Manager passes them.
No terraform means a failure, not a skip: CI must have one (`make test` builds it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from generator.core.samples import SAMPLE_VARIABLES
from generator.tfdouble.runner import (
    Result,
    planned_changes,
)

ROOT = Path(__file__).resolve().parent.parent
FLOWSTACK = Path(sys.executable).parent / "flowstack"
REFERENCE = ROOT / "stacks" / "flowspace.yaml"


# Values for required variables, as strings (as Resource Manager passes them): the one home
# of sample values (generator/core/samples.py), shared with `preview --sample` and `validate`.
SAMPLE = dict(SAMPLE_VARIABLES)

# Config variants: the reference stack and every opt-in part of the config.
VARIANTS: dict[str, dict[str, Any]] = {
    "reference": {},
    "ubuntu-24.04-frankfurt": {"region": "eu-frankfurt-1", "instance": {"image": {"version": "24.04"}}},
    "image-app-secret-env": {"socket": {"image": "ghcr.io/example/app:1.0", "git": None, "secret_env": ["API_KEY", "DB_URL"]}},
    # TURN/TLS runs only through Caddy on 443, and never with an origin certificate (issue 10).
    "cloudflare-origin": {"tls": {"mode": "cloudflare_origin"}},
    "acme-turn-tls-via-caddy": {"domains": {"turn_host": "turn.flow-coder.com"},
                                "livekit": {"turn": {"tls_port": 5349, "via_caddy": True}}},
    "internal-tls-extra-port": {"tls": {"mode": "internal"},
                                "extra_ports": [{"protocol": "tcp", "port": 8443, "reason": "admin console"}]},
    "budget-and-traffic-alarm": {"budget": {"enabled": True, "recipients": ["ops@example.com"]},
                                 "traffic_alarm": {"enabled": True, "emails": ["ops@example.com"], "slack": True}},
    "tags": {"tags": {"team": "ops", "cost-center": "42"}},
}

REFERENCE_RESOURCES = {
    "oci_core_vcn.main", "oci_core_internet_gateway.main", "oci_core_route_table.public",
    "oci_core_security_list.public", "oci_core_subnet.public", "random_password.livekit_api_secret",
    "oci_core_instance.server", "oci_core_public_ip.server",
}


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def generate(config: Path, out: Path) -> Path:
    """`flowstack generate CONFIG -o OUT` as a subprocess (the stable CLI interface)."""
    proc = subprocess.run([str(FLOWSTACK), "generate", str(config), "-o", str(out)], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out


def generate_variant(tmp: Path, changes: dict[str, Any]) -> Path:
    data = _merge(yaml.safe_load(REFERENCE.read_text(encoding="utf-8")), changes)
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "flowspace.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return generate(config, tmp / "stack")


def sample_variables(stack: Path, **overrides: str) -> dict[str, str]:
    """A string for every variable without a default (secret_env ones get a sample)."""
    text = (stack / "variables.tf").read_text(encoding="utf-8")
    values = {}
    for m in re.finditer(r'^variable "(\w+)" \{\n(.*?)^\}', text, re.DOTALL | re.MULTILINE):
        if not re.search(r"^\s*default\s*=", m[2], re.MULTILINE):
            values[m[1]] = SAMPLE.get(m[1], f"sample-{m[1]}")
    return values | overrides


def errors_text(r: Result) -> str:
    return "\n".join(f"{d.file}:{d.line}: {d.summary}: {d.detail}" for d in r.errors)


def resource_changes(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {c.address: list(c.actions) for c in planned_changes(plan)}
