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

from .contract import is_secret
from .errors import FlowstackError

ENV_OUTPUTS = ("NEXT_PUBLIC_SOCKET_URL", "NEXT_PUBLIC_LIVEKIT_URL", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


class OutputsError(FlowstackError, ValueError):
    """An outputs file that is not one of the shapes flowstack reads."""


def read_outputs(path: str | Path) -> dict[str, tuple[Any, bool]]:
    """``{name: (value, sensitive)}`` from an outputs JSON file; ``-`` reads standard input
    (so `rm-outputs --json --show-sensitive | flowstack env - -o FILE` leaves no secret in a
    file of its own)."""
    try:
        text = sys.stdin.read() if str(path) == "-" else Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise OutputsError(f"{path}: outputs file not found") from None
    except json.JSONDecodeError as exc:
        raise OutputsError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    return parse_outputs(data, str(path))


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
            lines.append(f"{name}={json.dumps(str(value))}")
    return "\n".join(lines) + "\n"
