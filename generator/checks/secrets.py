"""Check 7: no secret values, private keys or literal secrets in the stack (`contract.is_secret`).

>>> check_secrets(Stack({"main.tf": b""}), None).status  # doctest: +SKIP
'pass'
"""

from __future__ import annotations

import os
import re
from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import COMPOSE_FILE, LIVEKIT_CONFIG, is_secret
from generator.core.hcl import unquote as _unquote

from .report import FAIL, PASS, CheckResult
from .stack import Stack

PRIVATE_KEY_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+ )?PRIVATE KEY-----")


# -- 7. secrets ----------------------------------------------------------
def check_secrets(stack: Stack, config: StackConfig | None) -> CheckResult:
    problems = []
    env_secrets = {k: v for k, v in os.environ.items() if is_secret(k) and len(v) >= 8}
    for name, text in stack.text.items():
        if PRIVATE_KEY_BLOCK.search(text):
            problems.append(f"{name}: contains a private key block; pass keys as sensitive variables at deploy time")
        for env_name, value in env_secrets.items():
            if value in text:
                problems.append(f"{name}: contains the value of the environment variable {env_name}")
    for fname, doc in stack.docs.items():
        problems += [f"{fname}: {p}" for p in _literal_secrets_hcl(doc)]
    lk = stack.livekit_settings()
    if lk:
        for key, secret in (lk.get("keys") or {}).items():
            if not (isinstance(secret, str) and re.fullmatch(r"\$\{\s*\w+\s*\}", secret)):
                problems.append(f"{stack.written_in(LIVEKIT_CONFIG)}: {LIVEKIT_CONFIG} holds a literal secret for LiveKit key {key!r}; use the ${{livekit_api_secret}} placeholder (random_password) instead")
    compose = stack.written_file(COMPOSE_FILE)
    if compose:
        for line in compose.splitlines():
            m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*):\s*(\S.*)$", line)
            if m and is_secret(m.group(1)) and "${" not in m.group(2):
                problems.append(f"{stack.written_in(COMPOSE_FILE)}: docker-compose.yml sets {m.group(1)} to a literal; list it in socket.secret_env instead")
    if problems:
        return CheckResult("secrets", FAIL, "secret values would ship in the zip", problems)
    return CheckResult("secrets", PASS, "no secret values, private keys or literal secrets in the stack")


def _literal_secrets_hcl(doc: dict[str, Any]) -> list[str]:
    """Attributes with secret-like names set to a string literal (not a variable or resource)."""
    problems: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k.startswith("__"):
                    continue
                key = _unquote(k)
                here = f"{path}.{key}" if path else key
                if isinstance(v, str) and is_secret(key) and v.startswith('"') and "${" not in v and len(v) > 2:
                    problems.append(f"{here} is set to a literal string; use a sensitive variable or random_password")
                walk(v, here)
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    for kind in ("resource", "locals", "output", "module"):
        walk(doc.get(kind, []), kind)
    for entry in doc.get("variable", []) or []:
        for name, body in entry.items():
            default = body.get("default")
            if is_secret(_unquote(name), sensitive=body.get("sensitive") is True) and isinstance(default, str) and default not in ('""',):
                problems.append(f"variable {_unquote(name)} has a default value; secrets must have none")
    return problems
