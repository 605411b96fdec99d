"""Config variants for tests: the reference stack with some keys changed."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from generator.config.load import parse_config
from generator.config.schema import StackConfig
from generator.core.versions import livekit_image

REFERENCE = Path(__file__).resolve().parent.parent / "stacks" / "flowspace.yaml"

# The pinned LiveKit image, read from its one home (generator/data/versions.yaml).
PINNED_IMAGE = livekit_image()


def bumped_image(patches: int = 1) -> str:
    """The pinned LiveKit image ``patches`` patch releases on: "a version that is not the pin".

    Example: with the pin at ``...:v1.13.5``, ``bumped_image(6)`` -> ``...:v1.13.11``.
    """
    name, _, tag = PINNED_IMAGE.rpartition(":")
    m = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", tag)
    assert m, f"the pin {PINNED_IMAGE!r} is not a vX.Y.Z tag"
    return f"{name}:v{m[1]}.{m[2]}.{int(m[3]) + patches}"


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, nested mappings key by key (neither is modified)."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_config(changes: dict[str, Any], source: str = "test-variant") -> StackConfig:
    """The reference config (stacks/flowspace.yaml) with ``changes`` applied, validated."""
    data = merge(yaml.safe_load(REFERENCE.read_text(encoding="utf-8")), changes)
    return parse_config(yaml.safe_dump(data, sort_keys=False), source)


# The variant with the most instance metadata (checks/fit.py: user_data + config bundle + SSH
# key): the built-in sample app (its files travel in the bundle), sslip.io names (the boot step
# and its library travel in user_data), TURN/TLS through Caddy (caddy.json) and eight secret
# environment variables. tests/checks/test_bundle_fit.py holds it under OCI's 32,000 bytes.
LARGEST = """name: largest
livekit:
  turn: {tls_port: 5349, via_caddy: true}
socket:
  env: {NODE_ENV: production, LOG_LEVEL: info}
  secret_env: [API_KEY, DB_URL, JWT_SECRET, REDIS_URL, SESSION_SECRET, SMTP_PASSWORD, S3_SECRET, SENTRY_TOKEN]
"""
