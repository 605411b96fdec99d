"""Every fact a build derives from a config, derived once: ``derive(config) -> Derived``.

A build is ``load`` -> ``derive`` -> one emitter per artefact (`emit.render.emit_stack`: the
Terraform files, cloud-init, the bundle, the console form) -> checks -> one zip. The emitters
and the checks take what they need from `Derived` instead of deriving it again, so the port
policy, LiveKit's settings, the host names and the server file set each exist once per build
(`tests/derive/test_derive_once.py` counts the calls).

The module sits in the emit layer (tests/package/test_layers.py): the server file set is
the cloud-init emitter's output, and the bundle and the Terraform files are made from it.

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
from generator.derive.hostnames import host_expressions, public_ip_expression, turn_tls
from generator.derive.model import StackModel, build_model, template_variable_expressions
from generator.derive.ports import PortRule, extra_rules, policy_from_livekit
from generator.emit.cloudinit import WriteFile, cloud_init_source, server_files, server_livekit_settings


@dataclass(frozen=True)
class Derived:
    """What a config means for every artefact, each fact computed once."""

    config: StackConfig
    on: dt.date | None
    livekit: dict[str, Any]  # livekit.yaml as the server runs it (placeholders for the API key and secret)
    rules: tuple[PortRule, ...]  # the port policy: security list and host firewall
    turn_tls: bool  # a TURN/TLS host (its name, DNS record and boot-step fill)
    public_ip: str  # the HCL expression of the server's public address
    hosts: dict[str, str]  # each host name as HCL string-template text
    template_expressions: dict[str, str]  # template variable -> the HCL expression main.tf passes
    model: StackModel  # the stack's variables (variables.tf, the console form), tags, notes
    server_files: tuple[WriteFile, ...]  # every file the server gets (boot-only and bundle)
    cloud_init: str  # cloud-init.yaml before templating (the boot-only files)

    @property
    def template_variables(self) -> tuple[str, ...]:
        return tuple(self.template_expressions)


def derive(config: StackConfig, on: dt.date | None = None) -> Derived:
    """Derive every fact of ``config`` once (``on``: the date the dated limits are read for)."""
    lk = server_livekit_settings(config)
    rules = policy_from_livekit(lk, extra_rules(config))
    public_ip = public_ip_expression(config)
    files = server_files(config, rules=rules, lk=lk)
    return Derived(
        config=config,
        on=on,
        livekit=lk,
        rules=tuple(rules),
        turn_tls=turn_tls(config),
        public_ip=public_ip,
        hosts=host_expressions(config, public_ip),
        template_expressions=template_variable_expressions(config),
        model=build_model(config, on, rules),
        server_files=tuple(files),
        cloud_init=cloud_init_source(config, files),
    )
