"""The host names a deployed stack answers on, as the laptop-side commands must probe them.

With ``domains`` given they are the configured names; in auto mode (no ``domains``) the
server derived sslip.io names from its public IP at boot, so the same derivation
(``autodomain``, the one home of it) is applied to the IP the caller knows.

Example:
    >>> from generator.config.schema import StackConfig
    >>> c = StackConfig.model_validate({"name": "demo", "region": "ap-chuncheon-1"})
    >>> stack_hosts(c, "203.0.113.7")["socket_host"]
    'socket.203-0-113-7.sslip.io'
"""

from __future__ import annotations

from generator.config.schema import StackConfig
from generator.core.errors import FlowstackError
from generator.derive.autodomain import DEFAULT_PREFIXES, sslip_hosts
from generator.derive.hostnames import turn_tls

KEYS = ("socket_host", "livekit_host", "turn_host")


class HostsUnknown(FlowstackError):
    """Auto-domain stack and no IP to derive its names from."""


def _wants_turn_host(config: StackConfig) -> bool:
    return turn_tls(config)


def stack_hosts(config: StackConfig, ip: str | None) -> dict[str, str]:
    """``{socket_host, livekit_host[, turn_host]}`` for ``config``; ``ip`` is needed in auto mode."""
    d = config.domains
    if not d.auto:
        found = {k: getattr(d, k) for k in KEYS if getattr(d, k)}
        if not _wants_turn_host(config):
            found.pop("turn_host", None)
        return found
    if ip is None:
        raise HostsUnknown(
            f"{config.name}: domains are automatic (sslip.io names derived from the server's public IP); "
            "pass --ip with the instance's public IP (see `flowstack rm-outputs`)"
        )
    keys = KEYS if _wants_turn_host(config) else KEYS[:2]
    try:
        return sslip_hosts(ip, {k: DEFAULT_PREFIXES[k] for k in keys})
    except ValueError as exc:
        raise HostsUnknown(f"--ip {ip!r}: {exc}") from exc
