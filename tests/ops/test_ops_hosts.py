"""Host names that status and doctor probe: configured ones, or sslip.io names from the IP in auto mode."""

from __future__ import annotations

import pytest

from generator.config.schema import StackConfig
from generator.ops import doctor, probe
from generator.ops.hosts import HostsUnknown, stack_hosts

CUSTOM = {"name": "demo", "region": "ap-chuncheon-1",
          "domains": {"socket_host": "s.example.com", "livekit_host": "l.example.com", "turn_host": "t.example.com"},
          "socket": {"image": "ghcr.io/acme/app:1"}}


def test_custom_domains_are_used_as_configured_and_turn_host_only_with_turn_tls() -> None:
    c = StackConfig.model_validate(CUSTOM)
    assert stack_hosts(c, None) == {"socket_host": "s.example.com", "livekit_host": "l.example.com"}


def test_auto_domains_are_derived_from_the_ip() -> None:
    c = StackConfig.model_validate({"name": "demo", "region": "ap-chuncheon-1"})
    assert stack_hosts(c, "203.0.113.7") == {"socket_host": "socket.203-0-113-7.sslip.io",
                                             "livekit_host": "livekit.203-0-113-7.sslip.io"}


@pytest.mark.parametrize("ip", [None, "not-an-ip", "300.1.1.1"])
def test_auto_domains_without_a_usable_ip_are_a_clear_error(ip: str | None) -> None:
    c = StackConfig.model_validate({"name": "demo", "region": "ap-chuncheon-1"})
    with pytest.raises(HostsUnknown, match="--ip"):
        stack_hosts(c, ip)


def test_doctor_on_an_auto_domain_stack_without_ip_says_pass_ip() -> None:
    c = StackConfig.model_validate({"name": "demo", "region": "ap-chuncheon-1"})
    rows = doctor.run(c, probe.Target(timeout=0.5), None)
    assert [(r.check, r.status) for r in rows] == [("host names", "FAIL")]
    assert "--ip" in rows[0].fix
