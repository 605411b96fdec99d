"""Config variants for tests: the reference stack with some keys changed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from generator.config import parse_config
from generator.config_schema import StackConfig

REFERENCE = Path(__file__).resolve().parent.parent / "stacks" / "flowspace.yaml"


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
