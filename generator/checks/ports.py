"""Check 4: the security list and the host firewall against what the stack's own livekit.yaml needs; LiveKit keys.

>>> check_livekit_keys(Stack({})).status  # doctest: +SKIP
'skip'
"""

from __future__ import annotations

import yaml

from generator.config.schema import StackConfig
from generator.core.contract import COMPOSE_FILE, FIREWALL_SCRIPT, LIVEKIT_CONFIG
from generator.core.versions import too_old_for_current_clients
from generator.core.yamlio import load_yaml
from generator.derive.derived import Derived
from generator.derive.livekit import unknown_keys
from generator.derive.ports import ANYWHERE, RELAY_OWNER, RELAY_WHY, SSH_SOURCE, LiveKitSettingsError, PortRule, extra_rules, host_rules, livekit_needs, merge_policy

from .report import FAIL, PASS, SKIP, WARN, CheckResult
from .stack import Stack


def check_ports(stack: Stack, config: StackConfig | None, derived: Derived | None = None) -> CheckResult:
    """The security list and the host firewall read back from the stack against the policy of the
    stack's own livekit.yaml (read back too, so a hand-edited stack is checked as written). The
    declared extra rules come from ``derived`` in a build, else from ``config``, else from the
    rules' own reasons (a stack directory)."""
    lk = stack.livekit_settings()
    if lk is None:
        return CheckResult("port policy", FAIL, f"neither the config bundle nor cloud-init.yaml writes {LIVEKIT_CONFIG}: cannot derive what LiveKit needs", [
            f"add {LIVEKIT_CONFIG} to bundle/manifest.json (flowstack generate writes it)"])
    sl = stack.security_list_rules()
    declared = list(derived.extras) if derived is not None else _declared_extras(config, sl)
    try:
        needed, local = livekit_needs(lk)  # once: the policy and the local-only listeners both come from it
    except LiveKitSettingsError as exc:
        return CheckResult("port policy", FAIL, "LiveKit would refuse these settings", [f"livekit.yaml: {exc}"])
    wanted = merge_policy(needed, declared)
    problems: list[str] = []
    want_keys = {r.key: r for r in wanted}
    have_keys = {r.key: r for r in sl}
    for key, r in want_keys.items():
        if key not in have_keys:
            problems.append(f"security list: {r.ports}/{r.protocol} from {_src(r.source)} is missing ({r.who}: {r.why}); add an ingress rule")
    relay = {(x.protocol, x.low, x.high) for x in local if x.owner == RELAY_OWNER}
    local_ports = {(x.protocol, x.low) for x in local if x.owner != RELAY_OWNER}
    for key, r in have_keys.items():
        if key in want_keys:
            continue
        if (r.protocol, r.low, r.high) in relay:
            problems.append(f"security list: {r.ports}/{r.protocol} is open to {_src(r.source)} but is {RELAY_WHY}; remove the rule")
        elif (r.protocol, r.low) in local_ports or (r.protocol, r.low) == ("tcp", _socket_port(stack)):
            problems.append(
                f"security list: {r.ports}/{r.protocol} is open to {_src(r.source)} but is only reached through Caddy on the host; remove the rule"
            )
        elif r.protocol == "tcp" and r.low <= 22 <= r.high and r.source != SSH_SOURCE:
            problems.append(f"security list: SSH (22/tcp) is open to {_src(r.source)}; use source = var.ssh_source_cidr")
        else:
            problems.append(
                f"security list: {r.ports}/{r.protocol} from {_src(r.source)} is open but nothing in the policy needs it; remove it or declare it in extra_ports with a reason"
            )
    host = stack.firewall_rules()
    if host is None:
        problems.append(f"neither the config bundle nor cloud-init.yaml writes {FIREWALL_SCRIPT}: OCI's Ubuntu images REJECT every port not allowed on the host")
    else:
        # Sources count too: a lost `-s` opens an extra port to everyone. SSH's host rule has no
        # `-s` (OCI's image accepts 22 already; the security list limits it): any source there.
        want_host = {(r.protocol, r.low, r.high, _host_source(r.source)) for r in host_rules(wanted)}
        have_host = {(r.protocol, r.low, r.high, r.source) for r in host}
        for proto, low, high, src in sorted(want_host - have_host):
            problems.append(f"host firewall: {_ports(low, high)}/{proto} from {_src(src)} is not opened before OCI's REJECT rule; add it to the firewall script")
        for proto, low, high, src in sorted(have_host - want_host):
            why = f" ({RELAY_WHY})" if (proto, low, high) in relay else ""
            problems.append(f"host firewall: {_ports(low, high)}/{proto} from {_src(src)} is opened but not in the policy{why}; remove it")
    if problems:
        return CheckResult("port policy", FAIL, f"security list and host firewall differ from the {len(wanted)}-rule policy", problems)
    return CheckResult("port policy", PASS, f"policy, security list and host firewall agree on {len(wanted)} rules")


def _host_source(source: str) -> str:
    return ANYWHERE if source == SSH_SOURCE else source


def check_livekit_keys(stack: Stack) -> CheckResult:
    lk = stack.livekit_settings()
    if lk is None:
        return CheckResult("livekit settings", SKIP, f"no {LIVEKIT_CONFIG} in the config bundle or cloud-init.yaml")
    bad = unknown_keys(lk)
    if bad:
        hints = {"turn.tcp_port": " (TURN over TCP is turn.tls_port, with turn.domain; LiveKit never reads turn.tcp_port)"}
        return CheckResult("livekit settings", FAIL, "livekit.yaml has keys LiveKit does not read", [
            f"livekit.yaml: {k} is not a LiveKit setting{hints.get(k, '')}; remove it" for k in bad])
    old = too_old_for_current_clients(_livekit_image(stack))
    if old:
        return CheckResult("livekit settings", WARN, "the LiveKit server is too old for current clients", [old])
    return CheckResult("livekit settings", PASS, f"every livekit.yaml key is one LiveKit reads ({len(lk)} top-level keys)")


def _livekit_image(stack: Stack) -> str:
    """The compose file's LiveKit image, or "" (a broken compose file is another check's finding)."""
    try:
        compose = load_yaml(stack.written_file(COMPOSE_FILE) or "") or {}
    except yaml.YAMLError:
        return ""
    services = compose.get("services") if isinstance(compose, dict) else None
    livekit = services.get("livekit") if isinstance(services, dict) else None
    return str(livekit.get("image", "")) if isinstance(livekit, dict) else ""


def _declared_extras(config: StackConfig | None, security_list: list[PortRule]) -> list[PortRule]:
    if config is not None:
        return extra_rules(config)
    # A stack directory: an extra rule counts as declared when it says why (flowstack writes "extra_ports: <reason>").
    # Several nodes: Redis and NFS on node 1, open to the subnet only (generator/scale/), are written "scale: <reason>".
    return [r for r in security_list if r.why.startswith(("extra_ports: ", "scale: ")) and len(r.why) > len("extra_ports: ") + 2]


def _socket_port(stack: Stack) -> int | None:
    compose = stack.written_file(COMPOSE_FILE)
    if not compose:
        return None
    try:
        port = ((load_yaml(compose) or {}).get("services", {}).get("socket", {}).get("environment", {}) or {}).get("PORT")
        return int(port) if port else None
    except (yaml.YAMLError, ValueError, AttributeError):
        return None


def _src(source: str) -> str:
    return "ssh_source_cidr" if source == SSH_SOURCE else ("the internet (0.0.0.0/0)" if source == ANYWHERE else source)


def _ports(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"
