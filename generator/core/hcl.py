"""HCL in and out: writing values as HCL literals, reading python-hcl2 documents back.

Every value that comes from a user goes through `hcl_literal`, never into a template
as raw text: quotes, backslashes and control characters are escaped, and ``${`` /
``%{`` are doubled so Terraform reads them as text, not as interpolation.
"""

from __future__ import annotations

import re
from typing import Any

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def hcl_string(s: str) -> str:
    """``s`` as a quoted HCL string that Terraform reads back as exactly ``s``."""
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)  # non-ASCII stays as UTF-8: HCL source is UTF-8
    text = "".join(out)
    # Template sequences: "$${" and "%%{" are HCL's escapes for a literal "${" and "%{".
    text = text.replace("${", "$${").replace("%{", "%%{")
    return f'"{text}"'


def hcl_literal(value: Any) -> str:
    """A Python value as a single-line HCL literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return hcl_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hcl_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{hcl_key(k)} = {hcl_literal(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as HCL")


def hcl_key(key: str) -> str:
    """An object key: bare when it is an identifier, quoted otherwise."""
    return key if _IDENT.match(key) else hcl_string(key)


def template_escape(text: str) -> str:
    """Escape text for Terraform's template language (templatefile): ``${`` -> ``$${``, ``%{`` -> ``%%{``."""
    return text.replace("${", "$${").replace("%{", "%%{")


def template_unescape(text: str) -> str:
    return text.replace("$${", "${").replace("%%{", "%{")


# ---------------------------------------------------------------------------
# Reading python-hcl2 documents


def unquote(v: Any) -> Any:
    """A python-hcl2 string as its text (labels and literals keep their quotes there).

    >>> unquote('"main"'), unquote("var.x")
    ('main', 'var.x')
    """
    if isinstance(v, str) and len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1]
    return v


def blocks(doc: dict[str, Any], kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of every ``resource``/``data`` block in a python-hcl2 document."""
    out = []
    for entry in doc.get(kind, []) or []:
        for typ, named in entry.items():
            for name, body in named.items():
                out.append((unquote(typ), unquote(name), body))
    return out
