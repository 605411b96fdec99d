"""The stack's host names as Terraform sees them, how server files name them, and whether there is a TURN/TLS host.

One home for "is there a TURN/TLS host?" (`turn_tls`): the DNS wait, the boot step's names,
the host probes and the DNS records all ask it here.

>>> from generator.config.load import load_config
>>> c = load_config("stacks/flowspace.yaml")
>>> turn_tls(c), public_ip_expression(c)
(False, 'oci_core_public_ip.server.ip_address')
"""

from __future__ import annotations

from collections.abc import Callable

from generator.config.schema import StackConfig
from generator.core.contract import placeholder
from generator.derive import autodomain

HOST_KEYS = ("socket_host", "livekit_host", "turn_host")


def turn_tls(config: StackConfig) -> bool:
    """TURN over TLS is on (``livekit.turn`` enabled with a ``tls_port``): the stack has a TURN host."""
    return bool(config.livekit.turn.enabled and config.livekit.turn.tls_port)


def public_ip_expression(config: StackConfig) -> str:
    """The Terraform expression of the server's public address: the reserved IP's, or (with
    ``network.reserved_ip: false``) the instance's ephemeral one. Everything that names the
    address (outputs, DNS records, sslip.io names) uses this one expression."""
    return "oci_core_public_ip.server.ip_address" if config.network.reserved_ip else "oci_core_instance.server.public_ip"


def host_expressions(config: StackConfig, public_ip: str | None = None) -> dict[str, str]:
    """Each host name as HCL string-template text: the variable, or (auto domains) the sslip.io
    name derived from the instance's IP, read after apply, so there is no cycle.
    ``public_ip``: `public_ip_expression(config)` when the caller has it."""
    if not config.domains.auto:
        return {h: f"${{var.{h}}}" for h in ("socket_host", "livekit_host", "turn_host")}
    label = f'${{replace({public_ip or public_ip_expression(config)}, ".", "-")}}'
    return {key: f"{prefix}.{label}.{autodomain.SSLIP_SUFFIX}" for key, prefix in autodomain.DEFAULT_PREFIXES.items()}


def host_refs(config: StackConfig, auto_ref: Callable[[str], str]) -> dict[str, str]:
    """How a server file names each host: a Terraform placeholder, or (auto domains) ``auto_ref(key)``,
    which the boot step or Caddy fills in on the server.

    >>> c = StackConfig.model_validate({"name": "demo", "region": "ap-chuncheon-1"})
    >>> sorted(host_refs(c, lambda k: "<" + k + ">"))
    ['livekit_host', 'socket_host', 'turn_host']
    """
    ref = auto_ref if config.domains.auto else placeholder
    return {key: ref(key) for key in HOST_KEYS}


def env_name(key: str) -> str:
    """The env-file name of a ``domains`` key: socket_host -> SOCKET_HOST (the boot step writes it).

    >>> env_name("livekit_host")
    'LIVEKIT_HOST'
    """
    return key.upper()


def caddy_env_placeholder(key: str) -> str:
    """A Caddyfile environment placeholder, expanded when Caddy loads the file.

    >>> caddy_env_placeholder("socket_host")
    '{$SOCKET_HOST}'
    """
    return "{$" + env_name(key) + "}"
