"""Containers resolve names through 169.254.169.254 but cannot reach its metadata port (issue 21, item 1).

On OCI, 169.254.169.254 is both the instance metadata service (tcp 80, which serves user_data
with the stack's secrets) and the VCN's DNS resolver (udp and tcp 53). The generated firewall
script must keep containers off the first and leave them the second.

Real: the engine rig (tests/rig/engine.py): Debian's dockerd with ``--iptables=true`` in its own
namespaces, started *after* OCI's complete rules.v4 (tests/fixtures/oci-ubuntu-rules.v4) was
loaded and the generated firewall script (templates/firewall.sh.j2, rendered by
``flowstack preview``) ran live -- the order of an OCI boot; 169.254.169.254 sits outside the
engine's namespace, behind its default route, as the VNIC's gateway side does on OCI, so
container packets cross FORWARD -> DOCKER-USER; the engine's resolv.conf names it as OCI's does.
Containers are busybox tools in the rig's caddy image (busybox-static, as the Alpine-based
official images carry), on a user-defined network (compose's case: Docker's embedded resolver
forwards from inside the container's namespace, moby libnetwork/resolver.go) and on the default
bridge (the case of ``docker build``'s RUN steps: the container queries 169.254.169.254 itself).

Replaced: OCI's resolver and metadata service -- tests/rig/vcn_services.py answers DNS on
169.254.169.254:53 and HTTP on :80 in the rig's VCN namespace.

On f81956f the DNS assertions fail: the script's ``-A DOCKER-USER -d 169.254.169.254/32 -j DROP``
drops container DNS (the defect the "months" fix removes).
"""

from __future__ import annotations

import re
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from rig import engine_images as images
from rig.compose_stack import preview, start_vcn
from rig.engine import METADATA_IP, VCN_IP, Engine, available

from generator.emit.cloudinit import CADDY_IMAGE, docker_daemon_settings

ROOT = Path(__file__).resolve().parents[2]
OCI_RULES = ROOT / "tests" / "fixtures" / "oci-ubuntu-rules.v4"
NAME = "probe.flowstack.test"

pytestmark = [pytest.mark.slow, pytest.mark.engine]


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    why = available()
    if why:
        pytest.skip(why)
    if images.missing_inputs([CADDY_IMAGE]):
        pytest.fail("image inputs missing: " + "; ".join(images.missing_inputs([CADDY_IMAGE])))
    with tempfile.TemporaryDirectory(prefix="fsd", dir="/tmp") as tmp:
        work = Path(tmp)
        config = work / "dns.yaml"
        config.write_text(yaml.safe_dump({"name": "flowspace", "region": "ap-chuncheon-1", "tls": {"mode": "internal"},
                                          "domains": {"socket_host": "a.example.com", "livekit_host": "b.example.com"}}))
        script = (preview(config, work / "preview") / "files/usr/local/sbin/flowstack-firewall").read_text()
        (work / "firewall.sh").write_text(script)
        (work / "rules.v4").write_text(OCI_RULES.read_text())

        host_before = _host_network()

        def firewall(eng: Engine) -> None:
            eng.netns_run(eng.ns, ["iptables-restore", str(OCI_RULES)])
            eng.netns_run(eng.ns, ["env", f"FLOWSTACK_RULES_FILE={work / 'rules.v4'}", "sh", str(work / "firewall.sh")])

        with Engine(work, daemon_json=docker_daemon_settings(), before_dockerd=firewall) as eng:
            eng.load(list(images.build(eng, only=[CADDY_IMAGE]).values()))
            start_vcn(eng, work / "vcn.log", None, {NAME: VCN_IP})
            eng.docker(["network", "create", "rig-user-net"])
            eng.host_before = host_before  # type: ignore[attr-defined]
            yield eng


def _host_network() -> tuple[str, str, str]:
    """The host namespace's iptables, links and routes (read only)."""
    run = lambda cmd: subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=30).stdout  # noqa: E731
    links = "\n".join(line.split(":")[1].strip() for line in run(["ip", "-o", "link"]).splitlines())
    return run(["iptables-save", "-t", "filter"]).split("COMMIT")[0].split("\n", 2)[-1], links, run(["ip", "route"])


def test_the_host_namespace_is_untouched(engine: Engine) -> None:
    """dockerd runs with --iptables=true in its own namespace: the host's rules and routes are as before, no Docker link."""
    before, after = engine.host_before, _host_network()  # type: ignore[attr-defined]
    strip = lambda rules: "\n".join(re.sub(r"\[\d+:\d+\]", "", line) for line in rules.splitlines())  # noqa: E731
    assert strip(after[0]) == strip(before[0])
    # Links come and go with other namespaces' veth pairs: only Docker's own must not appear here.
    assert not [link for link in after[1].splitlines() if link == "docker0" or link.startswith("br-")], after[1]
    assert after[2] == before[2]
    assert "DOCKER" in engine.machine(["iptables-save", "-t", "filter"]).stdout  # ...while the engine's namespace has Docker's chains


def _tcp_query(name: str) -> str:
    """A DNS query for ``name``'s A record over TCP (length-prefixed), as printf octal escapes."""
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    return "".join(f"\\{b:03o}" for b in struct.pack(">H", len(q)) + q)


def _docker_user_rules(engine: Engine) -> str:
    """DOCKER-USER's rules and those of the chains it jumps to (the firewall may keep its own chain)."""
    out, chains, seen = [], ["DOCKER-USER"], set()
    while chains:
        chain = chains.pop()
        if chain in seen:
            continue
        seen.add(chain)
        rules = engine.machine(["iptables", "-S", chain]).stdout
        out.append(rules)
        chains += [m for m in re.findall(r"-j (\S+)", rules) if m not in ("ACCEPT", "DROP", "REJECT", "RETURN", "LOG")]
    return "\n".join(out)


def _in_container(engine: Engine, network: str, cmd: str) -> tuple[int, str]:
    # "; exit": sh stays PID 1 (a lone command would be exec'd as PID 1, which ignores timeout's SIGTERM).
    p = engine.docker(["run", "--rm", "--network", network, "--entrypoint", "/bin/sh", CADDY_IMAGE, "-c", f"{cmd}; exit $?"], check=False, timeout=90)
    return p.returncode, p.stdout + p.stderr


def test_the_rig_is_wired_as_on_oci(engine: Engine) -> None:
    """Controls: the host reaches both services; the firewall's rules are live; containers are behind DOCKER-USER."""
    assert engine.machine(["curl", "-sS", "--max-time", "5", f"http://{METADATA_IP}/"]).stdout == "metadata"
    host = engine.machine(["getent", "hosts", NAME], check=False)
    assert host.returncode == 0 and VCN_IP in host.stdout, host.stderr
    forward = engine.machine(["iptables", "-S", "FORWARD"]).stdout
    assert forward.splitlines()[1] == "-A FORWARD -j DOCKER-USER", forward
    assert "-A FORWARD -j REJECT --reject-with icmp-host-prohibited" in forward  # OCI's, kept after Docker's
    assert "169.254." in _docker_user_rules(engine)  # the firewall script's block, in DOCKER-USER or a chain it jumps to


@pytest.mark.parametrize("network", ["rig-user-net", "bridge"])
def test_containers_resolve_through_the_vcn_resolver(engine: Engine, network: str) -> None:
    code, out = _in_container(engine, network, f"nslookup {NAME}")
    assert code == 0 and VCN_IP in out, f"container DNS through {METADATA_IP}:53 failed on network {network}:\n{out}"
    # Over TCP too (large answers; busybox's nslookup has no TCP mode, so a raw query through nc:
    # the answer's A record, 10.78.0.1, is the bytes 0a 4e 00 01 at its end).
    code, out = _in_container(engine, network, f"printf '{_tcp_query(NAME)}' | nc -w 5 {METADATA_IP} 53 | od -An -tx1 | tr -d ' \\n'")
    assert code == 0 and out.strip().endswith("0a4e0001"), f"DNS over tcp/53 to {METADATA_IP} failed on network {network}:\n{out}"


@pytest.mark.parametrize("network", ["rig-user-net", "bridge"])
def test_containers_cannot_reach_the_metadata_service(engine: Engine, network: str) -> None:
    code, out = _in_container(engine, network, f"timeout 8 wget -q -O- http://{METADATA_IP}/opc/v2/instance/")
    assert code != 0 and "metadata" not in out, f"a container reached the metadata service on network {network}:\n{out}"


def test_without_the_block_a_container_reaches_metadata(engine: Engine) -> None:
    """Negative control: with an ACCEPT for tcp/80 put first in DOCKER-USER (the block bypassed), the
    same request gets the answer -- so the check above fails when the firewall does not block."""
    bypass = ["DOCKER-USER", "-d", f"{METADATA_IP}/32", "-p", "tcp", "--dport", "80", "-j", "ACCEPT"]
    engine.machine(["iptables", "-I", *bypass[:1], "1", *bypass[1:]])
    try:
        code, out = _in_container(engine, "rig-user-net", f"timeout 8 wget -q -O- http://{METADATA_IP}/")
        assert code == 0 and out.strip() == "metadata", out
    finally:
        engine.machine(["iptables", "-D", *bypass])
