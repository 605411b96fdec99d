"""The generated stack, run for real inside the rig's server namespace.

``flowstack preview CONFIG --sample -o DIR`` gives the files the server receives. The rig
loads OCI's Ubuntu rules.v4, runs the generated firewall script over it, starts the real
LiveKit with the generated livekit.yaml and the real Caddy with the generated Caddyfile
(or, in turn.via_caddy mode, the generated layer4 caddy.json), and runs real clients from
the client namespace.

The only edits to generated files (each returned in ``Stack.edits`` so tests list them):
- livekit.yaml: ``rtc.use_external_ip: false`` and ``rtc.node_ip: 198.18.0.10``, because STUN
  cannot reach the internet here; the node IP is the rig's emulated public address.
- caddy.json (via_caddy): ``storage.root`` /data -> a directory of the test, a local path.

Replaced, and why: Docker (not available) -- the processes run directly on the host in the
server namespace with host networking, which is what the compose file asks for; docker0's
address (where Caddy's layer4 dials LiveKit's TURN listener) is put on lo.

Example:
    stack = Stack.start(topo, preview_dir, work, livekit_bin, caddy_bin)
    result = stack.client(topo, relay=False)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.emit.caddyconf import TURN_UPSTREAM_HOST

from .netns import PUBLIC_IP, Topology

ROOT = Path(__file__).resolve().parents[2]
CLIENT = Path(__file__).resolve().parent / "lk_client.py"
TURN_PROBE = Path(__file__).resolve().parent / "turn_probe.py"
OCI_RULES = ROOT / "tests" / "fixtures" / "oci-ubuntu-rules.v4"
APP = "files/opt/flowstack"
RELAY_PORTS = "30000:40000"  # the stack's TURN relay range (livekit.yaml), never opened inbound
COUNTED = [("udp", "50000:60000"), ("udp", RELAY_PORTS), ("udp", "3478"), ("tcp", "7881"), ("tcp", "443")]

# Caddy installs its internal root into the system trust store at start; a private mount
# namespace with empty trust directories keeps the host's store untouched.
_TRUST_SANDBOX = (
    "mount -t tmpfs tmpfs /usr/local/share/ca-certificates && mount -t tmpfs tmpfs /etc/ssl/certs && "
    'exec "$0" "$@"'
)


def preview(config: Path, out: Path) -> Path:
    """Run the real CLI: ``flowstack preview CONFIG --sample -o OUT``."""
    exe = Path(sys.executable).parent / "flowstack"
    subprocess.run([str(exe), "preview", str(config), "--sample", "-o", str(out)], check=True, capture_output=True, text=True, timeout=60)
    return out


def drop_firewall_rule(script: str, needle: str) -> str:
    """The firewall script without its ``add`` line containing ``needle`` (a negative control)."""
    lines = script.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.startswith("add ") and needle in line]
    if len(hits) != 1:
        raise ValueError(f"expected one firewall rule with {needle!r}, found {len(hits)}")
    del lines[hits[0]]
    return "".join(lines)


@dataclass
class Stack:
    work: Path
    url: str
    key: str
    secret: str
    ca_file: Path
    hosts: dict[str, str]
    edits: list[str] = field(default_factory=list)
    livekit_log: Path | None = None

    @classmethod
    def start(
        cls,
        topo: Topology,
        preview_dir: Path,
        work: Path,
        livekit_bin: Path,
        caddy_bin: Path,
        livekit_host: str,
        firewall: str | None = None,
    ) -> Stack:
        """Firewall, LiveKit, Caddy up in the server namespace; returns when wss:// answers."""
        app = preview_dir / APP
        lk = yaml.safe_load((app / "livekit.yaml").read_text())
        edits = ["livekit.yaml rtc.use_external_ip: true -> false (no STUN here)", f"livekit.yaml rtc.node_ip: {PUBLIC_IP} (the rig's public address)"]
        lk["rtc"]["use_external_ip"] = False
        lk["rtc"]["node_ip"] = PUBLIC_IP
        (work / "livekit.yaml").write_text(yaml.safe_dump(lk, sort_keys=False))
        key, secret = next(iter(lk["keys"].items()))

        # OCI's Ubuntu rules first, then the generated script over them, live.
        topo.run("server", ["iptables-restore", str(OCI_RULES)])
        script = firewall if firewall is not None else (preview_dir / "files/usr/local/sbin/flowstack-firewall").read_text()
        (work / "firewall.sh").write_text(script)
        (work / "rules.v4").write_text(OCI_RULES.read_text())
        topo.run("server", ["env", f"FLOWSTACK_RULES_FILE={work / 'rules.v4'}", "sh", str(work / "firewall.sh")])
        # Accounting rules (no target: they count every packet, NEW or ESTABLISHED, and decide
        # nothing), first in INPUT, so tests see which ports carried traffic.
        for proto, ports in COUNTED:
            topo.run("server", ["iptables", "-I", "INPUT", "1", "-p", proto, "-m", proto, "--dport", ports, "-m", "comment", "--comment", "rig-count"])
        # And the relay range's packets that are not replies (conntrack NEW): with no relay rule
        # these are the ones the firewall turns away.
        topo.run("server", ["iptables", "-I", "INPUT", "1", "-p", "udp", "-m", "udp", "--dport", RELAY_PORTS,
                            "-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "rig-count-new"])

        lk_log = work / "livekit.log"
        lk_proc = topo.start("server", [str(livekit_bin), "--config", str(work / "livekit.yaml")], lk_log, cwd=work)
        topo.wait_tcp("server", "127.0.0.1", int(lk.get("port", 7880)), lk_proc, lk_log)

        data = work / "caddy-data"
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(work), "XDG_DATA_HOME": str(data), "XDG_CONFIG_HOME": str(work / "caddy-config")}
        if (app / "caddy.json").exists():
            conf = json.loads((app / "caddy.json").read_text())
            conf["storage"]["root"] = str(data)
            edits.append("caddy.json storage.root: /data -> the test's directory (a local path)")
            # Caddy dials LiveKit's TURN listener at docker0's address (daemon.json pins it with
            # "bip"; not loopback, for Firefox): no Docker here, so that address sits on lo.
            topo.run("server", ["ip", "addr", "add", f"{TURN_UPSTREAM_HOST}/32", "dev", "lo"])
            (work / "caddy.json").write_text(json.dumps(conf))
            args = ["run", "--config", str(work / "caddy.json")]
            ca = data / "pki/authorities/local/root.crt"
        else:
            args = ["run", "--config", str(app / "Caddyfile"), "--adapter", "caddyfile"]
            ca = data / "caddy/pki/authorities/local/root.crt"
        caddy_log = work / "caddy.log"
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _TRUST_SANDBOX, str(caddy_bin), *args]
        caddy_proc = topo.start("server", ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *cmd], caddy_log, cwd=work)
        topo.wait_tcp("server", "127.0.0.1", 443, caddy_proc, caddy_log)
        stack = cls(work, f"wss://{livekit_host}", key, secret, ca, {"livekit_host": livekit_host}, edits, lk_log)
        stack._wait_https(topo, caddy_proc, caddy_log)
        return stack

    def _wait_https(self, topo: Topology, proc: subprocess.Popen[Any], log: Path, timeout: float = 40) -> None:
        """Until the client namespace gets LiveKit's "OK" over https://<livekit host> with Caddy's CA."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"caddy exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            if self.ca_file.exists():
                host = self.hosts["livekit_host"]
                p = topo.run("client", ["curl", "-sS", "--max-time", "5", "--cacert", str(self.ca_file), f"https://{host}/"], check=False, timeout=15)
                if p.returncode == 0 and p.stdout.strip() == "OK":
                    return
                last = p.stderr.strip() or p.stdout.strip()
            time.sleep(0.5)
        raise RuntimeError(f"https://{self.hosts['livekit_host']} not answering from the client: {last}\n{log.read_text(errors='replace')[-3000:]}")

    def turn_probe(self, topo: Topology, timeout: float = 60) -> dict[str, Any]:
        """Join, then allocate over the ``turns:`` URL LiveKit offers (see turn_probe.py)."""
        cmd = [sys.executable, str(TURN_PROBE), "--url", self.url, "--key", self.key, "--secret", self.secret, "--ca", str(self.ca_file)]
        p = topo.run("client", cmd, check=False, timeout=timeout)
        lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"turn probe printed no result (exit {p.returncode}):\n{p.stderr[-3000:]}")
        out: dict[str, Any] = json.loads(lines[-1])
        return out

    def client(self, topo: Topology, *, relay: bool = False, seconds: float = 25, timeout: float = 90) -> dict[str, Any]:
        """Run the two-participant client in the client namespace; its JSON result."""
        cmd = ["env", f"SSL_CERT_FILE={self.ca_file}", sys.executable, str(CLIENT), "--url", self.url, "--key", self.key, "--secret", self.secret, "--seconds", str(seconds)]
        if relay:
            cmd.append("--relay")
        p = topo.run("client", cmd, check=False, timeout=timeout)
        lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"client printed no result (exit {p.returncode}):\n{p.stderr[-3000:]}")
        out: dict[str, Any] = json.loads(lines[-1])
        out["stderr_tail"] = p.stderr[-2000:]
        return out

