"""The host firewall's rules, as iptables prints them (issue 21 items 1, 4 and 8).

Two chains of flowstack's own, flushed and rebuilt on every run (live with one atomic
``iptables-restore --noflush``, and in /etc/iptables/rules.v4), so a port removed from the
config is closed on the next run instead of staying open forever:

- ``FLOWSTACK-INPUT`` (jumped to from INPUT before OCI's REJECT): the port policy for
  services on the host network (LiveKit, Caddy, SSH).
- ``FLOWSTACK-DOCKER`` (jumped to from DOCKER-USER, the chain Docker keeps for its users):
  what containers may send to 169.254.0.0/16 and who may reach ports published from the
  bridge network. On OCI 169.254.169.254 is the metadata service (tcp/80, with the
  stack's secrets in user_data) *and* the VCN's DNS resolver (udp+tcp/53), DHCP (udp/67)
  and NTP (udp/123): OCI's own rules.v4 (InstanceServices) accepts those for every local
  process. Docker's embedded resolver forwards a container's queries from inside the
  container's namespace (moby libnetwork/resolver.go), so they cross FORWARD -> DOCKER-USER:
  dropping 169.254.169.254 as a whole leaves every build and container without DNS.
  A published port arrives through DNAT (PREROUTING) and then FORWARD, never INPUT, so a
  source limit on an extra port is also enforced here, on the connection's original
  destination port (conntrack), which DNAT does not change.

How the script works (its comments are kept short: it travels in the config bundle, which
shares OCI's 32,000 metadata bytes with user_data): rules.v4 is rewritten by one awk pass over
its ``*filter`` table that drops every line flowstack wrote before (its chains, jumps, and
the blanket ``-A DOCKER-USER -d 169.254.169.254/32 -j DROP`` of flowstack before these
chains), declares the chains before the first rule, puts the INPUT jump right before OCI's
REJECT and the chains' rules before COMMIT. Live, declaring an existing chain in an
``iptables-restore --noflush`` flushes it, so both chains are refilled in one commit; the
jumps are inserted once (``iptables -C``). ``local_rule`` lines are FLOWSTACK-INPUT rules
outside the public port policy (LiveKit's API for Docker's bridges), which `validate` does
not count as public ports.

Example:
    >>> docker_rules([])[0]
    '-d 169.254.169.254/32 -p udp -m udp --dport 53 -j RETURN'
"""

from __future__ import annotations

from generator.derive.ports import ANYWHERE, SSH_SOURCE, PortRule, host_rules

INPUT_CHAIN = "FLOWSTACK-INPUT"
DOCKER_CHAIN = "FLOWSTACK-DOCKER"
METADATA_IP = "169.254.169.254"
# What containers keep on 169.254.169.254 (OCI's InstanceServices accepts the same for the
# host): DNS, DHCP, NTP. Everything else on 169.254.0.0/16 (metadata tcp/80, iSCSI, the
# other instance services) is for root on the host only.
CONTAINER_INSTANCE_SERVICES = (("udp", 53, "DNS"), ("tcp", 53, "DNS over TCP"), ("udp", 67, "DHCP"), ("udp", 123, "NTP"))


def _ports(r: PortRule) -> str:
    return str(r.low) if r.low == r.high else f"{r.low}:{r.high}"


def host_firewall_rules(rules: list[PortRule]) -> list[str]:
    """iptables rule specs (after ``-A FLOWSTACK-INPUT``) in the form ``iptables -S`` prints.

    The SSH rule carries no ``-s``: OCI's image already accepts 22 from anywhere on the host
    (rules.v4), so the security list is what limits SSH to ssh_source_cidr; the comment the
    firewall script writes says so (`rule_comment`).
    """
    out = []
    for r in host_rules(rules):
        src = "" if r.source in (ANYWHERE, SSH_SOURCE) else f"-s {r.source} "
        if r.protocol == "tcp":
            out.append(f"{src}-p tcp -m state --state NEW -m tcp --dport {_ports(r)} -j ACCEPT")
        else:
            out.append(f"{src}-p udp -m udp --dport {_ports(r)} -j ACCEPT")
    return out


def rule_comment(r: PortRule) -> str:
    """What the firewall script says about a rule: only what the rule itself does."""
    if r.source == SSH_SOURCE:
        return (f"{r.who}, SSH: any source on the host (OCI's image accepts 22 already); "
                "the security list limits it to ssh_source_cidr")
    src = "" if r.source == ANYWHERE else f", only from {r.source}"
    return f"{r.who}, {r.why}{src}"


def docker_rules(rules: list[PortRule]) -> list[str]:
    """Specs after ``-A FLOWSTACK-DOCKER``: instance services containers keep, the rest of
    169.254.0.0/16 dropped, and the source limit of each extra port on its published path."""
    out = [
        f"-d {METADATA_IP}/32 -p {proto} -m {proto} --dport {port} -j RETURN" for proto, port, _ in CONTAINER_INSTANCE_SERVICES
    ]
    out.append("-d 169.254.0.0/16 -j DROP")
    for r in host_rules(rules):
        if r.source not in (ANYWHERE, SSH_SOURCE):
            out.append(f"! -s {r.source} -p {r.protocol} -m conntrack --ctstate DNAT --ctorigdstport {_ports(r)} --ctdir ORIGINAL -j DROP")
    return out


# Docker's bridges: docker0 and compose's networks (br-<id>).
BRIDGES = ("docker0", "br-+")


def bridge_rules(livekit_port: int) -> list[str]:
    """LiveKit's API port for containers on Docker's bridges only (the app's server-side
    LIVEKIT_URL goes to the bridge's gateway, which is INPUT, not FORWARD); never public."""
    return [f"-i {b} -p tcp -m state --state NEW -m tcp --dport {livekit_port} -j ACCEPT" for b in BRIDGES]


def firewall_context(rules: list[PortRule], livekit_port: int) -> dict[str, object]:
    """What templates/firewall.sh.j2 renders."""
    hosts = host_rules(rules)
    return {
        "entries": [(rule_comment(r), spec) for r, spec in zip(hosts, host_firewall_rules(rules), strict=True)],
        "bridge_entries": bridge_rules(livekit_port),
        "docker_entries": docker_rules(rules),
        "input_chain": INPUT_CHAIN,
        "docker_chain": DOCKER_CHAIN,
    }
