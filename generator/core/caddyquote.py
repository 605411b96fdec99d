"""User text as one Caddyfile token: quoted so the lexer reads it back exactly, or refused.

Facts (caddyserver/caddy caddyconfig/caddyfile/parse.go and lexer.go; notes in research K):
* ``{$VAR}`` is replaced from the environment on the raw bytes *before* lexing, inside quotes
  and backticks too: there is no escape, so text containing ``{$`` is refused;
* in ``"..."`` only ``\\"`` is an escape (other backslashes stay), so a value ending in a
  backslash cannot be written there; backticks have no escapes and end at the next backtick;
* ``{...}`` runtime placeholders are replaced where a module runs the Replacer; ``\\{`` and
  ``\\}`` are its escapes, so braces are written escaped (``placeholders=True``).

>>> caddy_token("ops@example.com")
'"ops@example.com"'
>>> caddy_token('say "hi" {x}')
'"say \\\\"hi\\\\" \\\\{x\\\\}"'
"""

from __future__ import annotations

from generator.core.errors import RenderError


def caddy_problem(value: str) -> str | None:
    """Why ``value`` cannot be a Caddyfile token, or None."""
    if "{$" in value:
        return "contains '{$': Caddy replaces {$NAME} from its environment before reading the file, inside quotes too"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "contains a control character or line break"
    if (value.endswith("\\") or '\\"' in value) and "`" in value:
        return 'holds a backtick and a trailing backslash or \\": no Caddyfile quoting can hold both'
    return None


def caddy_token(value: object, placeholders: bool = True) -> str:
    """``value`` quoted for the Caddyfile; with ``placeholders``, braces are escaped for Caddy's Replacer."""
    text = str(value)
    problem = caddy_problem(text)
    if problem:
        raise RenderError(f"Caddyfile value {text!r} {problem}")
    if placeholders:
        text = text.replace("{", "\\{").replace("}", "\\}")
    if text.endswith("\\") or '\\"' in text:
        return f"`{text}`"  # no escapes inside backticks; no backtick here (checked above)
    return '"' + text.replace('"', '\\"') + '"'
