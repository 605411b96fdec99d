"""The config models' shared base: frozen, strict about unknown keys, no reserved text; ports.

Example: ``class X(Model): port: Port = 80`` refuses ``port: 0`` and any unknown key.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, WithJsonSchema, field_validator

from generator.core.contract import PLACEHOLDER_MARK

# User text may never contain `PLACEHOLDER_MARK`: it marks deploy-time values in generated files.

def _check_port(v: int) -> int:
    if not 1 <= v <= 65535:
        raise ValueError("port out of range")
    return v


# A TCP/UDP port; out-of-range values are reported on the field itself (the JSON Schema says the same range).
Port = Annotated[int, AfterValidator(_check_port), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 65535})]


def _takes_bool(annotation: Any) -> bool:
    return annotation is bool or any(_takes_bool(a) for a in getattr(annotation, "__args__", ()) or ())


class Model(BaseModel):
    # No whitespace stripping: user text (tags, reasons) must arrive exactly as written;
    # fields with a format (host names, URLs) refuse stray spaces through their patterns.
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads true as 1: `port: true` would open port 1.
        values = v if isinstance(v, list) else [v]
        flag = next((x for x in values if isinstance(x, bool)), None)
        if flag is not None and info.field_name and not _takes_bool(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"{str(flag).lower()} is a yes/no value, not a number or text")
        # YAML's .inf and .nan are floats; no size, amount or percentage can be one.
        if any(isinstance(x, float) and not math.isfinite(x) for x in values):
            raise ValueError("must be a finite number (.inf and .nan are not)")
        return v

    @field_validator("*", mode="before")
    @classmethod
    def _no_marker(cls, v: Any) -> Any:
        if isinstance(v, str) and PLACEHOLDER_MARK in v:
            raise ValueError(f"must not contain the reserved text {PLACEHOLDER_MARK!r}")
        # Mappings and lists of text (env, tags, e-mail lists): name the entry that holds it.
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        for key, item in items:
            for part in (key, item):
                if isinstance(part, str) and PLACEHOLDER_MARK in part:
                    raise ValueError(f"entry {key!r} must not contain the reserved text {PLACEHOLDER_MARK!r}")
        return v
