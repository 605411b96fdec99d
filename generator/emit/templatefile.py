"""What the server receives: Terraform's templatefile() applied to server files, for `preview`
and tests, and the sample deploy-time values `preview --sample` fills in.

>>> apply_template("a ${x} $${y}", {"x": "1"})
'a 1 ${y}'
"""

from __future__ import annotations

import base64
import re

from generator.config.schema import StackConfig
from generator.core.contract import secret_env_variable
from generator.core.errors import RenderError
from generator.core.samples import SAMPLE_KEY, SAMPLE_LIVEKIT_SECRET, SAMPLE_PEM, SAMPLE_VARIABLES, sample_variable
from generator.derive.model import template_variables

_TEMPLATE_RE = re.compile(r"\$\$\{|%%\{|\$\{([^}]*)\}|%\{")


def apply_template(text: str, values: dict[str, str]) -> str:
    """Terraform's templatefile() for the subset flowstack writes: ``${name}`` and escapes."""

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "$${":
            return "${"
        if token == "%%{":
            return "%{"
        if token == "%{":
            raise RenderError("template directives (%{...}) are not used by flowstack templates")
        name = m.group(1).strip()
        if name not in values:
            raise RenderError(f"vars map does not contain key {name!r}, referenced in the template")
        return values[name]

    return _TEMPLATE_RE.sub(sub, text)


def sample_values(config: StackConfig) -> dict[str, str]:
    """Plausible deploy-time values for `preview --sample` (never real secrets)."""
    pem, key = SAMPLE_PEM, SAMPLE_KEY
    secrets_env = "".join(f"{name}='{sample_variable(secret_env_variable(name))}'\n" for name in config.socket.secret_env)
    values = {
        "livekit_api_key": config.livekit.api_key,
        "livekit_api_secret": SAMPLE_LIVEKIT_SECRET,
        "socket_host": config.domains.socket_host or "",
        "livekit_host": config.domains.livekit_host or "",
        "turn_host": config.domains.turn_host or "",
        "socket_image": config.socket.image or "",
        "socket_git_url": (config.socket.git.known_url or SAMPLE_VARIABLES["socket_git_url"]) if config.socket.git else "",
        "socket_git_ref": config.socket.git.ref if config.socket.git else "",
        "tls_origin_certificate_b64": base64.b64encode(pem.encode()).decode(),
        "tls_origin_private_key_b64": base64.b64encode(key.encode()).decode(),
        "socket_secret_env_b64": base64.b64encode(secrets_env.encode()).decode(),
        "redis_password": "SampleRedisPasswordForPreviewOnly0123",  # several nodes (scale:)
        "socket_git_credentials_b64": base64.b64encode(b"username=x-access-token\npassword=\n").decode(),
        "socket_registry_auth_b64": base64.b64encode(b'{"auths":{}}').decode(),
        "socket_git_ssh_key_b64": "",  # the deploy key's default: none given (a public repository)
    }
    return {k: values[k] for k in template_variables(config)}
