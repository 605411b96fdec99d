"""The config models' shared base: frozen, strict about unknown keys, no reserved text; ports.

Example: ``class X(Model): port: Port = 80`` refuses ``port: 0`` and any unknown key.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema, field_validator

from .contract import PLACEHOLDER_MARK

# User text may never contain `PLACEHOLDER_MARK`: it marks deploy-time values in generated files.

def _check_port(v: int) -> int:
    if not 1 <= v <= 65535:
        raise ValueError("port out of range")
    return v


# A TCP/UDP port; out-of-range values are reported on the field itself (the JSON Schema says the same range).
Port = Annotated[int, AfterValidator(_check_port), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 65535})]


class Model(BaseModel):
    # No whitespace stripping: user text (tags, reasons) must arrive exactly as written;
    # fields with a format (host names, URLs) refuse stray spaces through their patterns.
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_marker(cls, v: Any) -> Any:
        if isinstance(v, str) and PLACEHOLDER_MARK in v:
            raise ValueError(f"must not contain the reserved text {PLACEHOLDER_MARK!r}")
        return v


