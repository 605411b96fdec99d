"""`flowstack status --ssh` and `doctor --ssh` through a real OpenSSH server (issue 21 items 4, 5).

Real:
- OpenSSH's sshd (Debian's openssh-server), started here with its own config, host key and one
  authorized test key, on 127.0.0.1:2222 inside the agent sandbox's network namespace
  (tests/emit/test_agent_sandbox.py); never the machine's sshd, no host network change;
- OpenSSH's ssh client, run by the real `flowstack` command (a subprocess in that namespace);
- the shipped agent at its real path /usr/local/sbin/flowstack-agent: sshd runs in a private
  mount namespace where the sandbox's sbin directory is bind-mounted there (nothing on the host
  changes), so the session runs exactly the command a server runs;
- the agent's state: written by that agent's own runs in the sandbox (a change whose recreate
  failed, then a run inside its back-off; a readiness check against a TLS server with a test CA).
Replaced, as in the sandbox: the metadata service (tests/imds_server.py), `docker` (a recorder),
the file system root (FLOWSTACK_ROOT, which sshd's SetEnv passes to the session with the clock
seam). OCI itself is not reached (--server-only); doctor's public probes find nothing at --ip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_agent_months import _TLS_SERVER, _ca_and_leaf, _env, _recorder
from test_agent_sandbox import Server, _bundle, _first_boot
from test_agent_sandbox import server as server  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]
SSHD = "/usr/sbin/sshd"
PORT = 2222

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="network and mount namespaces need root and iproute2"),
    pytest.mark.skipif(not os.access(SSHD, os.X_OK) or shutil.which("ssh") is None,
                       reason="OpenSSH server and client are not installed (tools/ensure-system-deps.sh installs them)"),
]


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)
    return path


class Sshd:
    """sshd in the sandbox's namespace, its own mount namespace giving /usr/local/sbin the sandbox's agent."""

    def __init__(self, srv: Server) -> None:
        d = srv.tmp / "sshd"
        d.mkdir()
        self.dir, self.srv = d, srv
        self.host_key, self.key, self.wrong_key = _keygen(d / "host_key"), _keygen(d / "id_test"), _keygen(d / "id_wrong")
        (d / "authorized_keys").write_text((d / "id_test.pub").read_text())
        self.known = d / "known_hosts"
        (d / "sshd_config").write_text(f"""Port {PORT}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
SetEnv FLOWSTACK_ROOT={srv.root} FLOWSTACK_AGENT_CLOCK=2026-12-07T10:01
""")
        sbin = srv.root / "usr/local/sbin"
        (sbin / "flowstack-agent").chmod(0o755)  # as cloud-init writes it (the sandbox runs it with python3)
        # Private mounts only: the sandbox's sbin at the real path, a fresh /run for sshd's privsep dir.
        script = (f"mount --bind {sbin} /usr/local/sbin && mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && "
                  f"exec {SSHD} -D -e -f {d}/sshd_config")
        self.log = open(d / "sshd.log", "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(["ip", "netns", "exec", srv.ns, "unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(100):
            if srv.exec(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{PORT}"], check=False).returncode == 0:
                return
            assert self.proc.poll() is None, (d / "sshd.log").read_text()
            time.sleep(0.1)
        raise AssertionError("sshd did not listen: " + (d / "sshd.log").read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(10)
        self.log.close()

    def flowstack(self, *args: str, key: Path | None = None) -> subprocess.CompletedProcess[str]:
        """The real `flowstack` CLI in the namespace: ssh to the sandbox's sshd with the test key."""
        argv = [sys.executable, "-m", "generator.cli", *args, "--ssh", "root@127.0.0.1", "--ssh-port", str(PORT),
                "-i", str(key or self.key), "-o", f"UserKnownHostsFile={self.known}", "-o", "GlobalKnownHostsFile=/dev/null"]
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": str(self.dir), "SSH_AUTH_SOCK": ""}
        return self.srv.exec(argv, check=False, env=env)


def _agent_state(srv: Server) -> None:
    """The sandbox's agent, run for real: first boot, a change whose LiveKit recreate fails (rolled
    back, attempt 1, next try 10:02), a run inside the back-off, a readiness check over TLS."""
    _recorder(srv)
    _first_boot(srv)
    srv.serve(_bundle(livekit_api_key="APIBroken"))
    r, _ = srv.agent(clock="2026-12-07T10:00", extra=_env(srv, fail="--force-recreate livekit"))
    assert r.returncode == 1, r.stdout + r.stderr
    r, _ = srv.agent(clock="2026-12-07T10:01", extra=_env(srv, fail="--force-recreate livekit"))
    assert srv.status()["state"] == "backoff"
    ca, leaf, key = _ca_and_leaf(srv.tmp, "app.example.test")
    up = srv.tmp / "tls-up"
    proc = subprocess.Popen(["ip", "netns", "exec", srv.ns, sys.executable, "-c", _TLS_SERVER, str(leaf), str(key), str(up)])
    try:
        for _ in range(100):
            if up.exists():
                break
            time.sleep(0.1)
        (srv.tmp / "ps").write_text("c1\n")
        (srv.tmp / "inspect.json").write_text(json.dumps([{"Config": {"Labels": {"com.docker.compose.service": "caddy"}},
                                                           "State": {"Status": "running", "Health": {"Status": "healthy"}}}]))
        r, _ = srv.agent("--ready", "acme", "app.example.test", extra={**_env(srv), "FLOWSTACK_HTTPS_PORT": "8443", "SSL_CERT_FILE": str(ca)})
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def sshd(server: Server) -> Iterator[Sshd]:  # noqa: F811
    _agent_state(server)
    s = Sshd(server)
    try:
        yield s
    finally:
        s.stop()


def test_status_over_ssh_shows_the_agent_the_disk_and_the_certificates(sshd: Sshd) -> None:
    stack = str(ROOT / "stacks" / "flowspace.yaml")
    state = sshd.srv.root / "var/lib/flowstack/agent"
    before = {p.name: p.read_bytes() for p in state.iterdir()}
    r = sshd.flowstack("status", stack, "--server-only")
    assert r.returncode == 1, r.stdout + r.stderr  # the agent reports a failed change: a problem
    out = r.stdout
    assert "server:     root@127.0.0.1 over SSH; server clock 2026-12-07 10:01" in out
    assert "  agent:      backoff: bundle " in out and "failed 1 time(s), next try 2026-12-07T10:02:00" in out
    assert "  last change: bundle " in out and "after 1 attempt(s)" in out
    assert "  attempts:   1 failed for bundle " in out and "next try 2026-12-07 10:02 (in 1 min)" in out
    assert "last error: recreate livekit failed (exit 1): failed (injected)" in out
    assert "  disk:       " in out and "GB used (" in out and "the 70% share the agent prunes to" in out
    assert "  certificate: app.example.test by Test ACME CA, expires " in out and "(5 days left)" in out
    assert "  readiness:  ready" in out
    assert "  problem:    server agent: a change failed 1 time(s); next try 2026-12-07 10:02 (server time)" in out
    assert {p.name: p.read_bytes() for p in state.iterdir()} == before  # read-only
    # --json: the agent's document as it printed it, under "server".
    r = sshd.flowstack("status", stack, "--server-only", "--json")
    doc = json.loads(r.stdout)["server"]
    assert doc["ssh"] == "root@127.0.0.1" and doc["attempts"]["attempts"] == 1 and doc["status"]["state"] == "backoff"
    assert doc["disk"]["total"] > doc["disk"]["used"] > 0 and doc["ready"]["certificates"]["app.example.test"]["issuer"] == "Test ACME CA"
    assert "APIBroken" not in r.stdout  # the bundle's secret values never travel


def test_doctor_over_ssh_adds_the_server_rows(sshd: Sshd) -> None:
    r = sshd.flowstack("doctor", str(ROOT / "stacks" / "flowspace.yaml"), "--ip", "127.0.0.1", "--timeout", "0.5",
                       "--resolve", "space-socket.flow-coder.com=127.0.0.1", "--resolve", "space-livekit.flow-coder.com=127.0.0.1", "--json")
    rows = {row["check"]: row for row in json.loads(r.stdout)}
    assert rows["server agent"]["status"] == "WARN" and "next try 2026-12-07 10:02" in rows["server agent"]["detail"]
    assert rows["server disk"]["status"] in ("PASS", "WARN") and "GB used" in rows["server disk"]["detail"]
    assert rows["server certificate app.example.test"]["status"] == "WARN"  # 5 days left: under 14


def test_a_wrong_key_a_changed_host_key_and_a_stopped_sshd_are_one_error_line(sshd: Sshd) -> None:
    stack = str(ROOT / "stacks" / "flowspace.yaml")
    r = sshd.flowstack("status", stack, "--server-only", key=sshd.wrong_key)
    assert r.returncode == 6 and r.stdout == "", r.stdout + r.stderr
    assert r.stderr.startswith(f"Error: ssh root@127.0.0.1 port {PORT}: root@127.0.0.1: Permission denied (publickey)")
    assert "pass -i with the private key of the config's ssh_public_key" in r.stderr and len(r.stderr.splitlines()) == 1
    # The first login recorded the host key (accept-new); a new key at that address is refused and said.
    r = sshd.flowstack("status", stack, "--server-only")
    assert r.returncode == 1, r.stderr
    other = _keygen(sshd.dir / "other_host_key")
    sshd.known.write_text(f"[127.0.0.1]:{PORT} {(other.parent / 'other_host_key.pub').read_text()}")
    r = sshd.flowstack("status", stack, "--server-only")
    assert r.returncode == 6 and "host key is not the one known_hosts holds" in r.stderr and "ssh-keygen -R 127.0.0.1" in r.stderr
    sshd.stop()
    r = sshd.flowstack("status", stack, "--server-only")
    assert r.returncode == 6 and len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
    assert "Connection refused" in r.stderr and f"nothing accepts SSH on 127.0.0.1:{PORT}" in r.stderr
