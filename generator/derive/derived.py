"""Every fact a build derives from a config, derived once: ``derive(config) -> Derived``.

A build is ``load`` -> ``derive`` -> one emitter per artefact (`emit.render.emit_stack`: the
server file set, then cloud-init, the bundle, the Terraform files and the console form, each a
function of `Derived`) -> checks (given the `Derived`) -> one zip. The emitters and the checks
read what they need here instead of deriving it again, so LiveKit's settings, the port policy,
the host names and their references, the variables and node 1's address each exist once per
build (`tests/derive/test_derive_once.py` counts the calls), and the config does not travel
back down to `derive/` or `scale/` once emitting has begun (`tools/config_walk.py`).

>>> from generator.config.load import load_config
>>> d = derive(load_config("stacks/flowspace.yaml"))
>>> d.turn_tls, len(d.rules) > 3, d.hosts["socket_host"]
(False, True, '${var.socket_host}')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import boot_mark, placeholder
from generator.derive.hostnames import caddy_env_placeholder, host_expressions, host_refs, public_ip_expression, turn_tls
from generator.derive.livekit import livekit_settings
from generator.derive.model import StackModel, build_model, secret_env_lines, template_variable_expressions
from generator.derive.ports import PortRule, extra_rules, policy_from_livekit
from generator.scale.stack import redis_host


@dataclass(frozen=True)
class Derived:
    """What a config means for every artefact, each fact computed once."""

    config: StackConfig
    on: dt.date | None
    model: StackModel  # the stack's variables (variables.tf, the console form), tags, notes
    template_expressions: dict[str, str]  # template variable -> the HCL expression main.tf passes
    secret_env: tuple[tuple[str, str], ...]  # (ENV_NAME, variable) of the app's secret environment
    boot_refs: dict[str, str]  # each host as server files name it: placeholder, or the boot step's mark
    caddy_refs: dict[str, str]  # each host as the Caddyfile names it: placeholder, or {$ENV} of the boot step
    livekit: dict[str, Any]  # livekit.yaml as the server runs it (placeholders for the API key and secret)
    extras: tuple[PortRule, ...]  # the declared extra rules (extra_ports; several nodes' Redis and NFS)
    rules: tuple[PortRule, ...]  # the port policy: security list and host firewall
    turn_tls: bool  # a TURN/TLS host (its name, DNS record and boot-step fill)
    public_ip: str  # the HCL expression of the server's public address
    hosts: dict[str, str]  # each host name as HCL string-template text
    redis_host: str  # several nodes: node 1's name inside the VCN (Redis, NFS)

    @property
    def template_variables(self) -> tuple[str, ...]:
        return tuple(self.template_expressions)


def server_livekit_settings(config: StackConfig, boot_refs: dict[str, str] | None = None, node1: str | None = None) -> dict[str, Any]:
    """The livekit.yaml the server runs: placeholders for the API key and secret, the TURN host's
    reference (``boot_refs``: `host_refs` with the boot step's mark) and node 1's name (``node1``:
    `redis_host`), each when derived already."""
    refs = boot_refs if boot_refs is not None else host_refs(config, boot_mark)
    turn_ref = refs["turn_host"] if config.domains.turn_host or config.domains.auto else None
    return livekit_settings(config, key=placeholder("livekit_api_key"), secret=placeholder("livekit_api_secret"), turn_host=turn_ref, redis_host=node1)


def derive(config: StackConfig, on: dt.date | None = None) -> Derived:
    """Derive every fact of ``config`` once (``on``: the date the dated limits are read for)."""
    model = build_model(config, on)
    exprs = template_variable_expressions(config)
    secret_env = tuple(secret_env_lines(config))
    boot_refs = host_refs(config, boot_mark)
    node1 = redis_host(config)
    lk = server_livekit_settings(config, boot_refs, node1)
    extras = extra_rules(config)
    public_ip = public_ip_expression(config)
    return Derived(
        config=config,
        on=on,
        model=model,
        template_expressions=exprs,
        secret_env=secret_env,
        boot_refs=boot_refs,
        caddy_refs=host_refs(config, caddy_env_placeholder),
        livekit=lk,
        extras=tuple(extras),
        rules=tuple(policy_from_livekit(lk, extras)),
        turn_tls=turn_tls(config),
        public_ip=public_ip,
        hosts=host_expressions(config, public_ip),
        redis_host=node1,
    )
