"""Dated thresholds of the generated server (``data/server.yaml``): disk prune share, agent back-off.

Example:
    >>> server_data()["disk"]["prune_above_pct"]
    70
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@lru_cache(maxsize=1)
def server_data() -> dict[str, Any]:
    """The parsed file."""
    data: dict[str, Any] = yaml.safe_load(resources.files("generator").joinpath("data/server.yaml").read_text("utf-8"))
    return data


@lru_cache(maxsize=1)
def tls_facts() -> dict[str, Any]:
    """``data/tls.yaml``: no-domain TLS, what was checked and when.

    Example: ``tls_facts()["lets_encrypt_ip_certificates"]["profile"]`` -> ``"shortlived"``.
    """
    data: dict[str, Any] = yaml.safe_load(resources.files("generator").joinpath("data/tls.yaml").read_text("utf-8"))
    return data
