"""doctor's fixes fit what it saw (issue 22, item 6); each case fails on f81956f.

* an sslip.io name has no record anyone can create: no "create an A record" for it;
* "connection refused" means the host answered and nothing listens (no firewall advice);
* no answer at all (a timeout) means a firewall drops the packets: the security list;
* "no route to host" (the host firewall's REJECT) keeps the open-the-port fix
  (tests/ops/test_doctor.py proves that one in its namespace rig).

The ports are real sockets on loopback. DNS is replaced where a name must fail to resolve
(a test may not send queries to the internet): `socket.getaddrinfo` raises as a resolver
that blocks sslip.io would.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from generator.ops import doctor, probe


@pytest.fixture
def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose SYNs go unanswered: a listener that never accepts, its queue already full
    (Linux drops a SYN when the accept queue is full, as a dropping firewall would)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the queue (its length is backlog + 1)
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    try:
        try:
            probe.connect("127.0.0.1", port, 0.5).close()
        except probe.ProbeError as exc:
            if "no answer within" not in str(exc):
                pytest.fail(f"the full-queue listener did not drop the SYN: {exc}")
        else:
            pytest.fail("the full-queue listener accepted a connection")
        yield port
    finally:
        for c in fillers:
            c.close()
        server.close()


def test_refused_means_nothing_listens(refused_port: int) -> None:
    row = doctor.check_tcp(probe.Target(timeout=1), "127.0.0.1", refused_port, f"ICE/TCP {refused_port}")
    assert row.status == "FAIL" and "refused" in row.detail.lower()
    assert row.fix.startswith(f"nothing listens on {refused_port}/tcp") and "security list" not in row.fix
    redirect = doctor.check_redirect(probe.Target(timeout=1, resolve={"h.example.com": "127.0.0.1"}), "h.example.com", "127.0.0.1")
    # Port 80 on loopback: refused too when nothing listens there (else skip: someone's server answers).
    if "refused" in redirect.detail.lower():
        assert redirect.fix.startswith("nothing listens on 80/tcp") and "Caddy" in redirect.fix


def test_no_answer_means_a_firewall_drops_it(silent_port: int) -> None:
    row = doctor.check_tcp(probe.Target(timeout=0.5), "127.0.0.1", silent_port, "ICE/TCP")
    assert row.status == "FAIL" and "no answer within" in row.detail
    assert "a firewall drops" in row.fix and "security list" in row.fix and "nothing listens" not in row.fix


def test_no_route_keeps_the_open_the_port_fix() -> None:
    fix = doctor.port_fix("10.78.0.2:7881/tcp: No route to host", 7881, "tcp", "LiveKit")
    assert fix.startswith("open 7881/tcp in the security list and the host firewall")


def test_sslip_names_get_no_a_record_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    host = "socket.127-0-0-1.sslip.io"

    def blocked(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", blocked)
    row = doctor.check_dns(probe.Target(), host, "127.0.0.1")
    assert row.status == "FAIL" and "A record" not in row.fix and "no record to create" in row.fix and "resolver" in row.fix
    # A name of an old address: the fix is the current names, not a record.
    moved = doctor.check_dns(probe.Target(resolve={host: "127.0.0.1"}), host, "203.0.113.9")
    assert moved.status == "FAIL" and "A record" not in moved.fix and "host_names" in moved.fix
    # The check can fail the other way: an own domain still gets the A record advice.
    own = doctor.check_dns(probe.Target(), "socket.example.com", "203.0.113.9")
    assert own.fix == "create an A record socket.example.com -> 203.0.113.9"
