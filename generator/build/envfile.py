"""`flowstack env`: the front end's environment from a stack's outputs.

Reads any of the three shapes outputs come in: `terraform output -json`
(``{name: {value, sensitive}}``), Resource Manager's job outputs
(``{"items": [{outputName, outputValue, isSensitive}]}``), or `flowstack rm-outputs
--json` (``{name: value}``, sensitive values null unless shown); and writes a
`.env.production` block. Sensitive values are masked unless asked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from generator.core.contract import is_secret
from generator.core.errors import FlowstackError

ENV_OUTPUTS = ("NEXT_PUBLIC_SOCKET_URL", "NEXT_PUBLIC_LIVEKIT_URL", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


class OutputsError(FlowstackError, ValueError):
    """An outputs file that is not one of the shapes flowstack reads."""


# Bounds on the outputs file: real outputs are a few kB, with a handful of levels and no
# number longer than a port or a count.
MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32
MAX_NUMBER_CHARS = 100


def read_outputs(path: str | Path) -> dict[str, tuple[Any, bool]]:
    """``{name: (value, sensitive)}`` from an outputs JSON file; ``-`` reads standard input
    (so `rm-outputs --json --show-sensitive | flowstack env - -o FILE` leaves no secret in a
    file of its own). Bounded: size, nesting, number length and encoding each give one error."""
    try:
        if str(path) == "-":
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(path, "rb") as f:
                raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise OutputsError(f"{path}: outputs file not found") from None
    except OSError as exc:
        raise OutputsError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return parse_outputs(parse_json(raw, str(path)), str(path))


def parse_json(raw: bytes, source: str) -> Any:
    """JSON text to data, refusing what would make the parser fail or run away: one
    `OutputsError` line per class (too large, not UTF-8 / UTF-16, nested too deep, a number too
    long or too large, NaN)."""
    if len(raw) > MAX_BYTES:
        raise OutputsError(f"{source}: more than {MAX_BYTES // 2**20} MB: outputs are a few kB (is it the right file?)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and (raw[0] == 0 or raw[1] == 0)):
        raise OutputsError(f"{source}: the file is UTF-16 text (PowerShell's > writes that); expected UTF-8, "
                           "e.g. terraform output -json | Out-File -Encoding utf8 out.json")
    try:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OutputsError(f"{source}: not UTF-8 text (byte {exc.start}); expected the JSON terraform output -json writes") from None
    if _depth(text) > MAX_DEPTH:
        raise OutputsError(f"{source}: the JSON nests deeper than {MAX_DEPTH} levels; outputs nest two or three")
    try:
        return json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise OutputsError(f"{source}:{exc.lineno}: not JSON ({exc.msg})") from None


def _depth(text: str) -> int:
    """The deepest bracket nesting outside strings (a loop: the parser itself recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _number(text: str) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise OutputsError(f"a number of {len(text):,} digits in the outputs: at most {MAX_NUMBER_CHARS} (is it the right file?)")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        raise OutputsError(f"the number {text} in the outputs is too large")
    return value


def _constant(name: str) -> Any:
    raise OutputsError(f"{name} in the outputs is not a JSON number")


def parse_outputs(data: Any, source: str = "<outputs>") -> dict[str, tuple[Any, bool]]:
    items = data
    if isinstance(data, dict):
        # RM's job outputs wrap a list in "items"; rm-outputs --json may wrap in "outputs".
        for wrapper in ("items", "outputs"):
            if wrapper in data:
                items = data[wrapper]
                break
    if isinstance(items, list) and all(isinstance(item, dict) for item in items):
        out = {}
        for item in items:
            name = item.get("outputName", item.get("output_name", item.get("name")))
            value = item.get("outputValue", item.get("output_value", item.get("value")))
            sensitive = bool(item.get("isSensitive", item.get("is_sensitive", item.get("sensitive", False))))
            if name is not None:
                out[name] = (value, sensitive)
        return out
    if isinstance(items, dict) and items and all(isinstance(v, dict) and "value" in v for v in items.values()):
        return {k: (v["value"], bool(v.get("sensitive"))) for k, v in items.items()}
    if isinstance(items, dict) and items and all(not isinstance(v, dict) for v in items.values()):
        # `flowstack rm-outputs --json`: a flat map; a sensitive value was masked as null.
        return {k: (v, v is None) for k, v in items.items()}
    raise OutputsError(
        f"{source}: not an outputs document; expected `terraform output -json`, Resource Manager job outputs "
        f"or `flowstack rm-outputs --json`"
    )


# The first line of every block: `env -o FILE` replaces only a file that starts with it.
ENV_HEADER = "# Front-end environment from the flowstack stack's outputs (.env.production)"


def env_block(outputs: dict[str, tuple[Any, bool]], *, show_sensitive: bool = False) -> str:
    """The `.env.production` lines; a sensitive value is replaced by a comment unless shown."""
    missing = [name for name in ENV_OUTPUTS if name not in outputs]
    if missing:
        raise OutputsError(f"outputs lack {', '.join(missing)}: were they made by a flowstack stack?")
    lines = [ENV_HEADER]
    for name in ENV_OUTPUTS:
        value, sensitive = outputs[name]
        if value is None:
            lines.append(f"# {name} was masked in these outputs: get them with `flowstack rm-outputs CONFIG --json --show-sensitive`")
            lines.append(f"{name}=")
        elif (sensitive or is_secret(name)) and not show_sensitive:
            # `rm-outputs --json --show-sensitive` loses the flag: the one secret rule still holds.
            lines.append(f"# {name} is a secret: env prints secrets only when asked, whatever the outputs showed (`rm-outputs --show-sensitive` passes it to env, not to your terminal); run env with --show-sensitive, or -o FILE to write it to a 0600 file")
            lines.append(f"{name}=")
        else:
            lines.append(f"{name}={dotenv_value(name, str(value))}")
    return "\n".join(lines) + "\n"


def dotenv_value(name: str, value: str) -> str:
    """``value`` in the syntax Next.js's loader (`@next/env`: dotenv, then dotenv-expand) reads
    back as exactly ``value``: every ``$`` escaped (dotenv-expand would otherwise expand
    ``${LIVEKIT_API_SECRET}`` into a public variable), quoted raw in ' or ` (dotenv decodes no
    escapes there), or in " when only those can hold it (dotenv decodes just \\n and \\r there).

    >>> print(dotenv_value("A", 'x${S} "q" é'))
    'x\\${S} "q" é'
    """
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value) or "\x7f" in value:
        raise OutputsError(f"{name}: the value holds a control character; a .env file cannot carry it as written")
    text = value.replace("$", "\\$")  # dotenv-expand turns \$ back into $ and expands nothing else
    for quote in "'`":
        # Raw quotes: any character but the quote itself (dotenv turns a CR into a line break).
        if quote not in text and "\r" not in text:
            return f"{quote}{text}{quote}"
    if '"' not in text and "\\n" not in text and "\\r" not in text:
        return '"' + text.replace("\n", "\\n").replace("\r", "\\r") + '"'
    raise OutputsError(f"{name}: the value holds both quote kinds ' and ` and a \" or a line break: a .env file cannot carry it "
                       "as written; give the front end this value another way")
