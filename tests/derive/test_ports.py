"""Port rules match what LiveKit needs, for every way LiveKit's ports can be set.

For each case the expected public ports are written out by hand from LiveKit's rules
(facts.md section 2), then compared with the security list and host firewall the
generator actually wrote, as `validate` parses them back out of the files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.checks.run import validate_files
from generator.checks.stack import Stack as _Stack
from generator.cli import cli
from generator.config.load import parse_config
from generator.derive.ports import RELAY_OWNER, livekit_needs
from generator.emit.render import render_stack

BASE = (Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "valid.yaml").read_text()
SSH, WEB = {("tcp", 22, 22)}, {("tcp", 80, 80), ("tcp", 443, 443)}
PATH_MTU = {("icmp", 3, 4)}  # security list only: the host firewall already accepts all ICMP

# TURN's relay range (30000-40000) is in none of them: the relay sockets only receive
# LiveKit's replies to packets they sent, which come in as established traffic (ports.py;
# proven by tests/e2e/test_livekit_rig.py with no relay rule in the firewall).
CASES = {
    "defaults": ({}, {("tcp", 7881, 7881), ("udp", 50000, 60000), ("udp", 3478, 3478)}),
    "udp mux only": (
        {"livekit": {"rtc": {"port_range_start": None, "port_range_end": None, "udp_port": 7882}, "turn": {"enabled": False}}},
        {("tcp", 7881, 7881), ("udp", 7882, 7882)},
    ),
    "custom range": (
        {"livekit": {"rtc": {"port_range_start": 40000, "port_range_end": 40100}, "turn": {"enabled": False}}},
        {("tcp", 7881, 7881), ("udp", 40000, 40100)},
    ),
    # LiveKit ignores udp_port when a range is set: 7882 must NOT be opened.
    "range and mux both set": (
        {"livekit": {"rtc": {"udp_port": 7882}, "turn": {"enabled": False}}},
        {("tcp", 7881, 7881), ("udp", 50000, 60000)},
    ),
    "turn off": ({"livekit": {"turn": {"enabled": False}}}, {("tcp", 7881, 7881), ("udp", 50000, 60000)}),
    "turn udp only": (
        {"livekit": {"turn": {"udp_port": 3478, "tls_port": None}}},
        {("tcp", 7881, 7881), ("udp", 50000, 60000), ("udp", 3478, 3478)},
    ),
    # TURN/TLS only (no TURN/UDP), through Caddy: direct tls_port is refused (issue 10), so
    # 5349 is never public.
    "turn tls only": (
        {"domains": {"turn_host": "turn.example.com"}, "livekit": {"turn": {"udp_port": None, "tls_port": 5349, "via_caddy": True}}},
        {("tcp", 7881, 7881), ("udp", 50000, 60000)},
    ),
    # TURN/TLS through Caddy on 443: 5349 stays on the host, not public.
    "turn tls via caddy": (
        {"domains": {"turn_host": "turn.example.com"}, "livekit": {"turn": {"tls_port": 5349, "via_caddy": True}}},
        {("tcp", 7881, 7881), ("udp", 50000, 60000), ("udp", 3478, 3478)},
    ),
    "ice tcp off": ({"livekit": {"rtc": {"tcp_port": None}, "turn": {"enabled": False}}}, {("udp", 50000, 60000)}),
}


def merge(base: dict, extra: dict) -> dict:
    for k, v in extra.items():
        base[k] = merge(base.get(k) or {}, v) if isinstance(v, dict) else v
    return base


@pytest.mark.parametrize("case", sorted(CASES))
def test_security_list_and_host_firewall_equal_livekit_needs(case: str) -> None:
    extra, livekit_public = CASES[case]
    config = parse_config(yaml.safe_dump(merge(yaml.safe_load(BASE), extra)))
    files = render_stack(config)
    stack = _Stack(files)
    expected = SSH | WEB | livekit_public
    sl = stack.security_list_rules()
    assert {(r.protocol, r.low, r.high) for r in sl} == expected | PATH_MTU
    assert {r.source for r in sl if r.low == 22} == {"var.ssh_source_cidr"}
    assert {r.source for r in sl if r.low != 22} == {"0.0.0.0/0"}
    assert {(r.protocol, r.low, r.high) for r in stack.firewall_rules()} == expected
    # The policy derived from the stack's own livekit.yaml, as LiveKit reads it, says the same.
    rules, _ = livekit_needs(stack.livekit_settings())
    assert {(r.protocol, r.low, r.high) for r in rules} == livekit_public
    assert validate_files(files, config).ok


def test_extra_port_needs_a_reason_and_is_then_allowed() -> None:
    data = yaml.safe_load(BASE)
    data["extra_ports"] = [{"protocol": "tcp", "port": 9100, "source": "10.0.0.0/16", "reason": "node exporter scraped from the VCN"}]
    config = parse_config(yaml.safe_dump(data))
    files = render_stack(config)
    stack = _Stack(files)
    assert ("tcp", 9100, 9100, "10.0.0.0/16") in {r.key for r in stack.security_list_rules()}
    assert validate_files(files, config).ok
    data["extra_ports"][0].pop("reason")
    with pytest.raises(ValueError, match="extra_ports.0.reason: required field is missing"):
        parse_config(yaml.safe_dump(data))


def test_ports_command_prints_the_policy(root: Path) -> None:
    r = CliRunner().invoke(cli, ["ports", str(root / "stacks" / "flowspace.yaml")])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["port", "protocol", "source", "who", "why"]
    assert lines[1].split()[:6] == ["type", "3", "code", "4", "icmp", "0.0.0.0/0"]
    assert lines[2].split()[:4] == ["22", "tcp", "ssh_source_cidr", "operator"]
    assert any(ln.split()[:3] == ["3478", "udp", "0.0.0.0/0"] for ln in lines)
    assert not any(ln.split()[0] == "30000-40000" for ln in lines[1:])  # the TURN relay range is never opened
    assert not any(ln.split()[0] in ("3001", "7880") for ln in lines[1:])


def test_turn_relay_range_is_a_local_listener_not_a_public_rule() -> None:
    """A custom relay range reaches livekit.yaml (LiveKit binds its relay sockets there) and the
    port-clash check, but opens nothing. Without the change this test guards, the range was
    the policy's fifth LiveKit rule and this fails."""
    data = yaml.safe_load(BASE)
    data.setdefault("livekit", {}).setdefault("turn", {}).update({"relay_range_start": 31000, "relay_range_end": 31999})
    config = parse_config(yaml.safe_dump(data))
    files = render_stack(config)
    stack = _Stack(files)
    lk = stack.livekit_settings()
    assert (lk["turn"]["relay_range_start"], lk["turn"]["relay_range_end"]) == (31000, 31999)
    rules, local = livekit_needs(lk)
    assert ("udp", 31000, 31999, RELAY_OWNER) in {(x.protocol, x.low, x.high, x.owner) for x in local}
    opened = {(r.protocol, r.low, r.high) for r in stack.security_list_rules()} | {(r.protocol, r.low, r.high) for r in stack.firewall_rules()}
    assert not any(p == "udp" and lo <= 31999 and 31000 <= hi for p, lo, hi in opened), opened
    assert not any(r.low <= 31999 and 31000 <= r.high for r in rules)
    assert validate_files(files, config).ok


def test_validate_compares_host_firewall_sources() -> None:
    """Issue 21 item 8: an extra port limited to a source, whose `-s` is lost from the host
    firewall script, is open to everyone on the host: `validate` catches it (f81956f compared
    protocol and ports only and passed it); the untouched stack passes."""
    data = yaml.safe_load(BASE)
    data["extra_ports"] = [{"protocol": "tcp", "port": 9100, "source": "10.0.0.0/16", "reason": "node exporter, VCN only"}]
    config = parse_config(yaml.safe_dump(data))
    files = render_stack(config)
    assert validate_files(files, config).ok
    name = next(n for n in files if n.endswith("usr/local/sbin/flowstack-firewall"))
    text = files[name].decode("utf-8")
    assert "add '-s 10.0.0.0/16 -p tcp" in text
    files[name] = text.replace("add '-s 10.0.0.0/16 -p tcp", "add '-p tcp").encode("utf-8")
    report = validate_files(files, config)
    assert not report.ok
    found = [p for r in report.results for p in r.problems]
    assert "host firewall: 9100/tcp from 10.0.0.0/16 is not opened before OCI's REJECT rule; add it to the firewall script" in found, found
    assert "host firewall: 9100/tcp from the internet (0.0.0.0/0) is opened but not in the policy; remove it" in found, found
