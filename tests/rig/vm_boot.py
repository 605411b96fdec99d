"""The VM boot tests' support: the booted VM, the first boot's faults, the clients outside the VM.

``FirstBoot`` runs the faults of one first boot (tests/e2e/test_vm_boot.py) while the test waits
for ``ready``; each fault is injected by the rig's servers and lifted by the rig, never by
anything on the server:

- the IMDS goes away for ``IMDS_OUTAGE`` s from the bring-up's first request for the config
  bundle (after cloud-init has read user_data): step 1 of the bring-up fails, systemd retries;
- the apt proxy answers 503 to the first request for the docker.io package;
- the registry answers 503 to its first request (a manifest: the pull fails, the try is retried);
- the git server is down (503) at first and comes back ``GIT_DOWN_FOR`` s after its first refusal;
- STUN is held back (the negative control of "ready means ready"): it answers once on :19302
  (the bring-up's bounded DNS wait learns the public IP with one request, else it would wait its
  full 30 min) and then nothing, so LiveKit cannot learn its public address and does not start; the
  rig releases STUN ``STUN_HOLD`` s after the bring-up reached its last step (the health wait),
  noting what the server showed meanwhile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.vm_net import GUEST_IP
from rig.vm_rig import VmRig

READY = "/var/lib/flowstack/ready"
LOG = "/var/log/flowstack-bootstrap.log"
COMPOSE = "docker compose -f /opt/flowstack/docker-compose.yml"
IMDS_OUTAGE = 45
GIT_DOWN_FOR = 30
STUN_HOLD = 120
LK_CLIENT = Path(__file__).resolve().parent / "lk_client.py"


@dataclass
class Held:
    """What the server showed while STUN was held back (the readiness negative control)."""

    since_last_step: float = 0.0
    ready_file: str = ""
    livekit: tuple[str, str] = ("", "")
    ready_json: str = ""
    released_at: float = 0.0


@dataclass
class FirstBoot:
    rig: VmRig
    git_refused_at: float = 0.0
    git_back_at: float = 0.0
    last_step_seen: float = 0.0
    held: Held | None = None
    events: list[str] = field(default_factory=list)

    def arm(self) -> None:
        """Before power-on: git down, STUN held back (the other faults are the servers' options)."""
        for name in ("git-down", "stun-down"):
            (self.rig.state / name).write_text("rig fault\n", encoding="utf-8")

    def log_lines(self, name: str) -> list[dict[str, Any]]:
        path = self.rig.state / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def step(self, booted: Booted) -> None:
        """One poll while waiting for ready: lift the faults whose time has come."""
        now = time.monotonic()
        if (self.rig.state / "git-down").exists():
            if not self.git_refused_at and any(r["server"] == "git" and r["status"] == 503
                                               for r in self.log_lines("services.log")):
                self.git_refused_at = now
                self.events.append("git refused a clone")
            if self.git_refused_at and now - self.git_refused_at >= GIT_DOWN_FOR:
                (self.rig.state / "git-down").unlink()
                self.git_back_at = now
                self.events.append("git server back")
        if not (self.rig.state / "stun-down").exists():
            return
        if not self.last_step_seen:
            if "8/8 " in booted.ssh(f"grep -h ' 8/8 ' {LOG} 2>/dev/null | tail -1", check=False):
                self.last_step_seen = now
                self.events.append("bring-up waits for health with STUN held back")
            return
        if now - self.last_step_seen < STUN_HOLD:
            return
        held = Held(since_last_step=now - self.last_step_seen)
        held.ready_file = booted.ssh(f"cat {READY} 2>/dev/null", check=False).strip()
        states = service_states(booted)
        held.livekit = states.get("livekit", ("missing", ""))
        held.ready_json = booted.ssh("cat /var/lib/flowstack/agent/ready.json 2>/dev/null", check=False)
        (self.rig.state / "stun-down").unlink()
        held.released_at = time.time()
        self.held = held
        self.events.append("STUN released")


class Booted:
    def __init__(self, rig: VmRig) -> None:
        self.rig = rig
        self.vm = rig.vm
        assert self.vm is not None
        self.ready_after: float | None = None
        self.error = ""
        self.first_boot: FirstBoot | None = None

    def ssh(self, cmd: str, **kw: Any) -> str:
        assert self.vm is not None
        return self.vm.ssh(cmd, **kw).stdout

    def need_ready(self) -> None:
        if self.ready_after is None:
            import pytest
            pytest.fail(f"the first boot never reached ready: {self.error}")


def compose_ps(b: Booted) -> list[dict[str, Any]]:
    out = b.ssh(f"{COMPOSE} ps --all --format json", check=False)
    return [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]


def service_states(b: Booted) -> dict[str, tuple[str, str]]:
    return {p["Service"]: (p["State"], p.get("Health", "")) for p in compose_ps(b)}


def container_ids(b: Booted) -> dict[str, str]:
    return {p["Service"]: p["ID"] for p in compose_ps(b) if p["State"] == "running"}


def opened_before_reject(rules: list[str], port: str) -> bool:
    """Whether an ACCEPT for ``--dport port`` is reached in INPUT before OCI's REJECT, directly
    or in a chain INPUT jumps to before it (``iptables -S`` lines)."""
    def reached(chain: str, seen: frozenset[str]) -> bool:
        for r in (r for r in rules if r.startswith(f"-A {chain} ")):
            if "-j REJECT" in r:
                return False
            if f"--dport {port} " in f"{r} " and "-j ACCEPT" in r:
                return True
            target = r.rsplit("-j ", 1)[-1].split()[0] if "-j " in r else ""
            if target and target not in ("ACCEPT", "DROP", "RETURN", "LOG") and target not in seen \
                    and reached(target, seen | {target}):
                return True
        return False
    return reached("INPUT", frozenset({"INPUT"}))


SOCKETIO_CLIENT = r'''
import json, sys
import socketio
url, ca = sys.argv[1], sys.argv[2]
out = {}
for transports in (["websocket"], ["polling"]):
    c = socketio.Client(ssl_verify=ca, reconnection=False)
    c.connect(url, transports=transports, wait_timeout=30)
    out[transports[0]] = c.call("echo", {"hello": "vm"}, timeout=30)
    c.disconnect()
print(json.dumps(out))
'''


def socketio_exchange(b: Booted, url: str, ca: Path) -> dict[str, Any]:
    """A python-socketio client in the rig's namespace (a client outside the VM, resolving names
    through the rig's DNS) exchanges one event over WebSocket and one over long-polling."""
    # The CA for both transports: requests (long-polling) and websocket-client (WebSocket) each
    # read their own variable; Python's ssl reads SSL_CERT_FILE.
    env = [f"{k}={ca}" for k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "WEBSOCKET_CLIENT_CA_BUNDLE")]
    r = b.rig.net.sh("env", *env, sys.executable, "-c", SOCKETIO_CLIENT, url, str(ca), check=False, timeout=180)
    assert r.returncode == 0, (r.stdout, r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def livekit_media(b: Booted, url: str, key: str, secret: str, ca: Path) -> dict[str, Any]:
    """Two real LiveKit participants (tests/rig/lk_client.py) in the rig's namespace join through
    wss:// and exchange audio and video with the VM's LiveKit through the host firewall."""
    env = os.environ | {"SSL_CERT_FILE": str(ca)}
    cmd = ["ip", "netns", "exec", b.rig.net.ns, sys.executable, str(LK_CLIENT), "--url", url, "--key", key,
           "--secret", secret, "--room", "vmrig", "--seconds", "60", "--connect-timeout", "60"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, check=False)
    assert r.returncode == 0 and r.stdout.strip(), (r.stdout, r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def secret_found(b: Booted, secret: str, keep: str) -> str:
    """Where ``secret`` is on the server, besides the file ``keep``: every file under the places
    logs and state live, the journal, every container's logs and ``docker inspect``. The secret
    never goes on a command line (sudo logs command lines to the journal): it travels base64
    encoded into a 0600 file under /run that the search skips."""
    import base64
    needle = base64.b64encode(secret.encode()).decode()
    return b.ssh(
        f"umask 077; echo {needle} | base64 -d > /run/flowstack-needle; "
        f"grep -rlF -f /run/flowstack-needle /var/log /opt/flowstack /etc /root /home /var/lib/flowstack --exclude={keep}; "
        "journalctl --no-pager | grep -F -f /run/flowstack-needle | head -3; "
        "for c in $(docker ps -aq); do docker logs $c 2>&1; docker inspect $c; done | grep -F -f /run/flowstack-needle | head -3; "
        "rm -f /run/flowstack-needle", check=False).strip()


def remote_addresses(result: dict[str, Any]) -> set[str]:
    return {p["remote"]["address"] for who in ("sender", "receiver") for p in result.get(who, [])}


__all__ = ["GUEST_IP", "Booted", "FirstBoot", "compose_ps", "container_ids", "opened_before_reject",
           "service_states", "socketio_exchange", "livekit_media", "remote_addresses", "secret_found"]
