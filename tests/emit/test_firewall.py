"""The generated host firewall script against OCI's own Ubuntu rules.v4 (issue 4).

OCI's Ubuntu images end INPUT with ``-j REJECT --reject-with icmp-host-prohibited``; a
port open in the security list is still closed on the host unless an ACCEPT sits before
that rule, in the live tables and in /etc/iptables/rules.v4 (loaded at boot). The script
from `flowstack preview` runs here for real:

- on a copy of the shipped file (``FLOWSTACK_LIVE=0``): ``iptables-restore --test``
  accepts the result, every policy port is ACCEPTed before the REJECT, a second run
  changes nothing, and nothing outside the added INPUT rules moves (OUTPUT and
  InstanceServices protect the boot volume and metadata service);
- live, in a private network namespace (``unshare --net``): the OCI rules are loaded with
  ``iptables-restore``, the script inserts its rules with iptables, ``iptables -S INPUT``
  shows them before the REJECT, and the file it saved holds exactly the live INPUT chain.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from generator.config.schema import StackConfig
from generator.derive.ports import ANYWHERE, SSH_SOURCE, PortRule, host_rules, policy
from generator.build.preview import preview_files
from variants import make_config

ROOT = Path(__file__).resolve().parents[2]
OCI_RULES = Path(__file__).resolve().parents[1] / "fixtures" / "oci-ubuntu-rules.v4"
SCRIPT = "files/usr/local/sbin/flowstack-firewall"
REJECT = "-A INPUT -j REJECT --reject-with icmp-host-prohibited"
METADATA_LINES = [":DOCKER-USER - [0:0]", "-A DOCKER-USER -d 169.254.169.254/32 -j DROP"]

# name -> changes merged into stacks/flowspace.yaml (None is YAML null).
SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    # UDP mux only: one udp_port, no range (LiveKit then uses the mux, not 50000-60000).
    "udp-mux-only": {"livekit": {"rtc": {"port_range_start": None, "port_range_end": None, "udp_port": 7882}}},
    "custom-range": {
        "livekit": {
            "rtc": {"tcp_port": 7891, "port_range_start": 51000, "port_range_end": 51999},
            "turn": {"udp_port": 3479, "relay_range_start": 31000, "relay_range_end": 31999},
        },
        # A rule limited to a source network: written with -s, as iptables itself prints it.
        "extra_ports": [{"protocol": "tcp", "port": 9100, "source": "10.0.0.0/16", "reason": "node exporter, VCN only"}],
    },
    "turn-off": {"livekit": {"rtc": {"tcp_port": None}, "turn": {"enabled": False}}},
    "turn-tls": {"domains": {"turn_host": "space-turn.flow-coder.com"}, "livekit": {"turn": {"tls_port": 5349, "via_caddy": True}}},
}


class Rule(NamedTuple):
    protocol: str | None
    low: int | None
    high: int | None
    source: str | None
    target: str | None


def parse_rule(line: str) -> Rule:
    """The parts of an ``-A INPUT ...`` line (iptables-save / iptables -S form) the policy is about."""
    words = line.split()
    opts: dict[str, str] = {}
    for i, word in enumerate(words[:-1]):
        if word in ("-p", "-s", "-j", "--dport"):
            opts[word] = words[i + 1]
    low = high = None
    if "--dport" in opts:
        a, _, b = opts["--dport"].partition(":")
        low, high = int(a), int(b or a)
    return Rule(opts.get("-p"), low, high, opts.get("-s"), opts.get("-j"))


def input_rules(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("-A INPUT ")]


def assert_policy_before_reject(rules: list[str], wanted: list[PortRule]) -> None:
    """Every policy rule has an ACCEPT in INPUT before the REJECT, which stays last."""
    assert rules.count(REJECT) == 1, rules
    assert rules[-1] == REJECT, "the REJECT rule must stay the last INPUT rule"
    before = [parse_rule(ln) for ln in rules[:-1]]
    for r in wanted:
        source = None if r.source in (ANYWHERE, SSH_SOURCE) else r.source
        assert Rule(r.protocol, r.low, r.high, source, "ACCEPT") in before, f"{r.protocol} {r.ports} from {r.source} not accepted before REJECT"


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[StackConfig, Path]]:
    out = {}
    for name, changes in SETTINGS.items():
        config = make_config(changes)
        path = tmp_path_factory.mktemp(f"fw-{name}") / "flowstack-firewall"
        path.write_bytes(preview_files(config, sample=True)[SCRIPT])
        path.chmod(0o755)
        out[name] = (config, path)
    return out


def run_script(script: Path, rules_file: Path, live: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLOWSTACK_RULES_FILE": str(rules_file), "FLOWSTACK_LIVE": "1" if live else "0"}
    return subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def iptables_restore_test(rules_file: Path) -> subprocess.CompletedProcess[str]:
    with rules_file.open("rb") as f:
        return subprocess.run(["iptables-restore", "--test"], stdin=f, capture_output=True, text=True, timeout=60)


def test_oci_rules_fixture_is_the_shipped_file() -> None:
    """The fixture is OCI's file as shipped: valid, and REJECTing everything but SSH."""
    assert iptables_restore_test(OCI_RULES).returncode == 0
    text = OCI_RULES.read_text(encoding="utf-8")
    assert input_rules(text)[-1] == REJECT
    assert "-A InstanceServices -d 169.254.169.254/32" in text


@pytest.mark.parametrize("name", SETTINGS)
def test_firewall_inserts_policy_before_reject_in_rules_file(scripts: dict[str, tuple[StackConfig, Path]], name: str, tmp_path: Path) -> None:
    config, script = scripts[name]
    wanted = host_rules(policy(config))
    original = OCI_RULES.read_text(encoding="utf-8")
    rules_file = tmp_path / "rules.v4"
    shutil.copyfile(OCI_RULES, rules_file)

    result = run_script(script, rules_file)
    assert result.returncode == 0, result.stderr
    first = rules_file.read_text(encoding="utf-8")

    # (a) iptables itself accepts the edited file.
    check = iptables_restore_test(rules_file)
    assert check.returncode == 0, check.stderr
    # (b) every policy port is ACCEPTed before the REJECT in INPUT.
    assert_policy_before_reject(input_rules(first), wanted)
    # (c) a second run changes nothing.
    again = run_script(script, rules_file)
    assert again.returncode == 0, again.stderr
    assert rules_file.read_text(encoding="utf-8") == first
    # (d) only INPUT ACCEPT lines were added; everything else (OUTPUT, InstanceServices,
    # FORWARD, comments, COMMIT) is byte-for-byte where it was.
    original_lines = original.splitlines()
    added = [ln for ln in first.splitlines() if ln not in original_lines]
    assert [ln for ln in first.splitlines() if ln not in added] == original_lines
    # Besides INPUT ACCEPTs: the metadata drop for Docker networks (issue 10 item 10), once.
    assert [ln for ln in added if "DOCKER-USER" in ln] == METADATA_LINES
    added = [ln for ln in added if "DOCKER-USER" not in ln]
    assert added and all(ln.startswith("-A INPUT ") and ln.endswith(" -j ACCEPT") for ln in added)
    # Nothing beyond the policy: each added line is for a policy rule (SSH 22 was already there).
    keys = {(r.protocol, r.low, r.high) for r in wanted}
    assert {(p.protocol, p.low, p.high) for p in map(parse_rule, added)} <= keys
    assert len(added) == len(set(added))
    # TURN's relay range (custom-range moves it to 31000-31999) is never opened: the relay
    # sockets only get replies to their own packets (generator/derive/ports.py, the LiveKit rig).
    lo, hi = config.livekit.turn.relay_range_start, config.livekit.turn.relay_range_end
    assert not [ln for ln in added if (r := parse_rule(ln)).protocol == "udp" and r.low is not None and r.high is not None and r.low <= hi and lo <= r.high]


def test_firewall_creates_missing_rules_file(scripts: dict[str, tuple[StackConfig, Path]], tmp_path: Path) -> None:
    """Without /etc/iptables/rules.v4 (not an OCI image), the script writes a valid one."""
    config, script = scripts["default"]
    rules_file = tmp_path / "etc" / "iptables" / "rules.v4"
    result = run_script(script, rules_file)
    assert result.returncode == 0, result.stderr
    assert iptables_restore_test(rules_file).returncode == 0
    rules = input_rules(rules_file.read_text(encoding="utf-8"))
    assert_policy_before_reject(rules + [REJECT], host_rules(policy(config)))


def test_rule_checks_catch_a_misordered_file(tmp_path: Path) -> None:
    """Negative control: an ACCEPT after the REJECT (what `iptables -A` would give) fails (b)."""
    text = OCI_RULES.read_text(encoding="utf-8").replace(REJECT, REJECT + "\n-A INPUT -p tcp -m state --state NEW -m tcp --dport 443 -j ACCEPT")
    with pytest.raises(AssertionError):
        assert_policy_before_reject(input_rules(text), [PortRule("tcp", 443, 443, ANYWHERE)])
    broken = tmp_path / "broken.v4"
    broken.write_text(text.replace("COMMIT", ""), encoding="utf-8")
    assert iptables_restore_test(broken).returncode != 0


# ---------------------------------------------------------------------------
# Live: real iptables in a private network namespace

_LIVE_SCRIPT = r"""
set -eu
iptables-restore < "$OCI_RULES"
"$SCRIPT" >/dev/null
iptables -S INPUT > "$OUT/first.txt"
"$SCRIPT" >/dev/null
iptables -S INPUT > "$OUT/second.txt"
iptables-save -t filter > "$OUT/saved.txt"
"""


def _netns_available() -> str | None:
    """None if `unshare --net` with iptables works here, else why not."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(["unshare", "--net", "iptables", "-S", "INPUT"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"cannot make a private network namespace with iptables here: {probe.stderr.strip() or probe.returncode}"
    return None


@pytest.mark.parametrize("name", SETTINGS)
def test_firewall_live_in_private_network_namespace(scripts: dict[str, tuple[StackConfig, Path]], name: str, tmp_path: Path) -> None:
    reason = _netns_available()
    if reason:
        pytest.skip(reason)
    config, script = scripts[name]
    rules_file = tmp_path / "rules.v4"
    shutil.copyfile(OCI_RULES, rules_file)
    env = {
        **os.environ,
        "OCI_RULES": str(OCI_RULES),
        "SCRIPT": str(script),
        "OUT": str(tmp_path),
        "FLOWSTACK_RULES_FILE": str(rules_file),
        "FLOWSTACK_LIVE": "1",
    }
    result = subprocess.run(["unshare", "--net", "sh", "-c", _LIVE_SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    first = (tmp_path / "first.txt").read_text()
    # The live chain, as iptables prints it: policy ports before the REJECT.
    assert_policy_before_reject(input_rules(first), host_rules(policy(config)))
    # Idempotent live too: the second run inserted nothing.
    assert (tmp_path / "second.txt").read_text() == first
    # What survives a reboot is what runs now: the file's INPUT chain equals the live one,
    # line for line and in order (so the script's text form is iptables' own).
    assert input_rules(rules_file.read_text(encoding="utf-8")) == input_rules(first)
    # The other chains were not touched live either.
    saved = (tmp_path / "saved.txt").read_text()
    oci = OCI_RULES.read_text(encoding="utf-8")
    others = [ln for ln in oci.splitlines() if ln.startswith("-A ") and not ln.startswith("-A INPUT ")]
    mine = [ln for ln in saved.splitlines() if ln.startswith("-A ") and not ln.startswith(("-A INPUT ", "-A DOCKER-USER "))]
    assert mine == others
    assert [ln for ln in saved.splitlines() if ln.startswith("-A DOCKER-USER ")] == METADATA_LINES[1:]


# ---------------------------------------------------------------------------
# Issue 10 item 10: containers cannot reach the instance metadata service

# Three namespaces of this test's own: "host" (runs the firewall script, forwards like the
# server), "ctr" (a container on a Docker bridge network, 172.18.0.2), "meta" (plays OCI's
# metadata service at 169.254.169.254, plus a control host 10.199.0.2). Replaced, because
# there is no Docker engine here: the FORWARD jump to DOCKER-USER and the bridge's ACCEPT
# rules are added by hand exactly as Docker adds them when it starts (after the firewall
# script, which ran before Docker was installed).
_METADATA_NETNS = r"""
set -eu
H="$P-h"; C="$P-c"; M="$P-m"
ip netns add "$H"; ip netns add "$C"; ip netns add "$M"
ip link add "$P-hc" type veth peer name "$P-ch"
ip link add "$P-hm" type veth peer name "$P-mh"
ip link set "$P-hc" netns "$H"; ip link set "$P-ch" netns "$C"
ip link set "$P-hm" netns "$H"; ip link set "$P-mh" netns "$M"
ip -n "$H" addr add 172.18.0.1/24 dev "$P-hc"; ip -n "$C" addr add 172.18.0.2/24 dev "$P-ch"
ip -n "$H" addr add 169.254.169.1/24 dev "$P-hm"; ip -n "$H" addr add 10.199.0.1/24 dev "$P-hm"
ip -n "$M" addr add 169.254.169.254/24 dev "$P-mh"; ip -n "$M" addr add 10.199.0.2/24 dev "$P-mh"
for ns in "$H" "$C" "$M"; do ip -n "$ns" link set lo up; done
ip -n "$H" link set "$P-hc" up; ip -n "$H" link set "$P-hm" up
ip -n "$C" link set "$P-ch" up; ip -n "$M" link set "$P-mh" up
ip -n "$C" route add default via 172.18.0.1
ip -n "$M" route add 172.18.0.0/24 via 10.199.0.1
ip netns exec "$H" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$M" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 8080)); s.listen()
open("'"$OUT"'/listening", "w").close()
while True:
    c, _ = s.accept(); c.sendall(b"metadata"); c.close()
' >/dev/null 2>&1 &
LISTENER=$!
trap 'kill "$LISTENER" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -e "$OUT/listening" ] && break; sleep 0.1; done
probe() {  # prints "open" or "blocked" for a TCP connect from the container
  ip netns exec "$C" python3 -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], 8080), timeout=1.5).recv(16); print("open")
except OSError:
    print("blocked")' "$1"
}
ip netns exec "$H" iptables-restore < "$OCI_RULES"
docker_starts() {  # what dockerd adds to FORWARD for a bridge network
  ip netns exec "$H" iptables -N DOCKER-USER 2>/dev/null || true
  ip netns exec "$H" iptables -I FORWARD 1 -j DOCKER-USER
  ip netns exec "$H" iptables -I FORWARD 2 -i "$P-hc" -j ACCEPT
  ip netns exec "$H" iptables -I FORWARD 3 -o "$P-hc" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
}
if [ "$MODE" = with-script ]; then
  ip netns exec "$H" env FLOWSTACK_RULES_FILE="$RULES" FLOWSTACK_LIVE=1 "$SCRIPT" >/dev/null
fi
docker_starts
echo "metadata=$(probe 169.254.169.254) control=$(probe 10.199.0.2)"
"""


@pytest.mark.parametrize("mode", ["with-script", "without-script"])
def test_containers_cannot_reach_instance_metadata(scripts: dict[str, tuple[StackConfig, Path]], mode: str, tmp_path: Path) -> None:
    """Live packets: with the firewall script, a container's connection to 169.254.169.254 is
    dropped while another address still works; without it (the negative control) it connects."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 (network namespaces)")
    _config, script = scripts["default"]
    rules = tmp_path / "rules.v4"
    shutil.copyfile(OCI_RULES, rules)
    prefix = f"fm{os.getpid() % 10000}{os.urandom(2).hex()}"  # interface names stay under 16 bytes
    env = {**os.environ, "P": prefix, "OUT": str(tmp_path), "OCI_RULES": str(OCI_RULES), "SCRIPT": str(script), "RULES": str(rules), "MODE": mode}
    try:
        result = subprocess.run(["bash", "-c", _METADATA_NETNS], env=env, capture_output=True, text=True, timeout=90)
    finally:
        for link in ("hc", "hm"):  # only left in the root namespace if the set-up stopped early
            subprocess.run(["ip", "link", "del", f"{prefix}-{link}"], capture_output=True, timeout=10)
        for ns in ("h", "c", "m"):
            pids = subprocess.run(["ip", "netns", "pids", f"{prefix}-{ns}"], capture_output=True, text=True, timeout=10).stdout.split()
            for pid in pids:
                subprocess.run(["kill", pid], capture_output=True, timeout=10)
            subprocess.run(["ip", "netns", "del", f"{prefix}-{ns}"], capture_output=True, timeout=10)
    assert result.returncode == 0, result.stderr
    want = "metadata=blocked control=open" if mode == "with-script" else "metadata=open control=open"
    assert result.stdout.strip().splitlines()[-1] == want, result.stdout + result.stderr
