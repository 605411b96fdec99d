"""The doctor rig: a server and a client in two network namespaces this module creates.

    client ns  10.78.0.3/24 --veth-- 10.78.0.2/24  server ns

Server: OCI's Ubuntu iptables rules (tests/fixtures/oci-ubuntu-rules.v4) with the
generated firewall script run live on top; Debian's real Caddy with the generated
Caddyfile (``tls.mode: cloudflare_origin``: the certificate files are made here by a test
CA, and the ``/certs/`` path -- a docker volume on the real server -- is rewritten to the
test's directory); tests/rig_services.py (the real Socket.IO app, stand-ins for LiveKit).
Client: ``flowstack doctor`` / ``status`` as a subprocess, its /etc/hosts (bind-mounted by
``ip netns exec`` from /etc/netns/<ns>/hosts) acting as DNS.

Names carry the pid and a random token (``fsdr-<pid>-<hex>-s|c``); nothing leaves the namespaces.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from generator.build.preview import preview_files
from generator.config.load import load_config
from generator.emit.cloudinit import render_caddyfile

ROOT = Path(__file__).resolve().parent.parent
OCI_RULES = ROOT / "tests" / "fixtures" / "oci-ubuntu-rules.v4"
SERVER_IP, CLIENT_IP = "10.78.0.2", "10.78.0.3"
FIREWALL = "files/usr/local/sbin/flowstack-firewall"
LIVEKIT_YAML = "files/opt/flowstack/livekit.yaml"


_NAME_RE = re.compile(r"^fsdr-(\d+)-[0-9a-f]{6}-[sc]$")


def sweep_stale() -> None:
    """Delete rig namespaces whose creating process is gone (a run killed before its cleanup)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=20).stdout
    for line in out.splitlines():
        m = _NAME_RE.match(line.split()[0]) if line.split() else None
        if m and not Path(f"/proc/{m[1]}").exists():
            subprocess.run(["ip", "netns", "del", line.split()[0]], capture_output=True, timeout=20)
            shutil.rmtree(f"/etc/netns/{line.split()[0]}", ignore_errors=True)


def available() -> str | None:
    """None if namespaces, iptables and caddy work here, else why not."""
    for tool in ("ip", "iptables", "iptables-restore", "caddy"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (tools/ensure-system-deps.sh installs it)"
    probe = subprocess.run(["unshare", "--net", "iptables", "-S", "INPUT"], capture_output=True, text=True, timeout=30)
    return None if probe.returncode == 0 else f"no network namespaces with iptables here: {probe.stderr.strip()}"


class TestCA:
    """A CA and the leaf certificates the rig's Caddy serves."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "flowstack rig CA"), x509.NameAttribute(NameOID.COMMON_NAME, "rig root")])
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                     .not_valid_after(now + dt.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def leaf(self, names: list[str], *, expired: bool = False) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        start, end = (now - dt.timedelta(days=40), now - dt.timedelta(days=2)) if expired else (now - dt.timedelta(hours=1), now + dt.timedelta(days=60))
        cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(self.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
                .sign(self.key, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return cert.public_bytes(serialization.Encoding.PEM), key_pem


class Rig:
    """Build with `start`, tear down with `close` (idempotent)."""

    def __init__(self, workdir: Path, config_path: Path, livekit_bin: Path | None = None) -> None:
        self.workdir, self.config_path, self.livekit_bin = workdir, config_path, livekit_bin
        self.livekit_key = self.livekit_secret = ""
        self.config = load_config(config_path)
        self.hosts = [self.config.domains.socket_host, self.config.domains.livekit_host]
        token = secrets.token_hex(3)
        self.ns = {"server": f"fsdr-{os.getpid()}-{token}-s", "client": f"fsdr-{os.getpid()}-{token}-c"}
        self.veth = (f"fd{token}s", f"fd{token}c")
        self.ca = TestCA()
        self.ca_file = workdir / "ca.pem"
        self.certs = workdir / "certs"
        self.procs: dict[str, subprocess.Popen[Any]] = {}
        self.turn_site: str | None = None

    # -- namespaces
    def run(self, ns: str, cmd: list[str], check: bool = True, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(["ip", "netns", "exec", self.ns[ns], *cmd], capture_output=True, text=True, timeout=timeout, **kw)
        if check and p.returncode:
            raise RuntimeError(f"{cmd} in {ns}: {p.returncode}: {p.stderr.strip()}")
        return p

    def start(self) -> Rig:
        sweep_stale()
        try:
            self._network()
            self.set_dns({h: SERVER_IP for h in self.hosts})
            self.firewall()
            self.ca_file.write_bytes(self.ca.pem())
            self.use_certificate(self.hosts)
            self._services()
        except BaseException:
            self.close()
            raise
        return self

    def _network(self) -> None:
        s, c = self.ns["server"], self.ns["client"]
        for ns in (s, c):
            subprocess.run(["ip", "netns", "add", ns], check=True, timeout=20)
            self.run("server" if ns == s else "client", ["ip", "link", "set", "lo", "up"])
        vs, vc = self.veth
        subprocess.run(["ip", "link", "add", vs, "netns", s, "type", "veth", "peer", "name", vc, "netns", c], check=True, timeout=20)
        self.run("server", ["ip", "addr", "add", f"{SERVER_IP}/24", "dev", vs])
        self.run("server", ["ip", "link", "set", vs, "up"])
        self.run("client", ["ip", "addr", "add", f"{CLIENT_IP}/24", "dev", vc])
        self.run("client", ["ip", "link", "set", vc, "up"])

    def set_dns(self, records: dict[str, str]) -> None:
        """The client's "DNS": its /etc/hosts; no resolver is reachable from the namespace."""
        etc = Path(f"/etc/netns/{self.ns['client']}")
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text("127.0.0.1 localhost\n" + "".join(f"{ip} {h}\n" for h, ip in records.items()))
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")

    def firewall(self) -> None:
        """OCI's rules, then the generated script, live (as cloud-init runs it on the VM)."""
        script = self.workdir / "flowstack-firewall"
        script.write_bytes(preview_files(self.config, sample=True)[FIREWALL])
        script.chmod(0o755)
        with OCI_RULES.open() as rules:
            self.run("server", ["iptables-restore"], stdin=rules)
        env = {**os.environ, "FLOWSTACK_LIVE": "1", "FLOWSTACK_RULES_FILE": str(self.workdir / "rules.v4")}
        self.run("server", [str(script)], env=env)

    def iptables(self, *args: str) -> None:
        self.run("server", ["iptables", *args])

    # -- Caddy and the services
    def use_certificate(self, names: list[str], *, expired: bool = False, turn_site: str | None = None) -> None:
        """Serve a certificate for ``names`` (restarting Caddy, which reads it at start).

        ``turn_site`` adds a site answering TLS for that name: a stand-in for the caddy-l4 SNI
        route of ``turn.via_caddy`` (Debian's Caddy has no layer4 app)."""
        self.turn_site = turn_site
        self.certs.mkdir(exist_ok=True)
        cert, key = self.ca.leaf(names, expired=expired)
        (self.certs / "origin.pem").write_bytes(cert)
        (self.certs / "origin-key.pem").write_bytes(key)
        self._caddy()

    def _caddy(self) -> None:
        self.stop("caddy")
        text = render_caddyfile(self.config, hosts={"socket_host": self.hosts[0], "livekit_host": self.hosts[1]})
        # The one change: on the VM /certs is a docker volume of the app directory.
        if self.turn_site:
            text += f"\n{self.turn_site} {{\n    tls /certs/origin.pem /certs/origin-key.pem\n    respond \"TURN stand-in\" 404\n}}\n"
        (self.workdir / "Caddyfile").write_text(text.replace("/certs/", f"{self.certs}/"))
        env = {**os.environ, "HOME": str(self.workdir), "XDG_DATA_HOME": str(self.workdir / "data"), "XDG_CONFIG_HOME": str(self.workdir / "cfg")}
        self._spawn("caddy", ["caddy", "run", "--config", str(self.workdir / "Caddyfile"), "--adapter", "caddyfile"], env=env)
        self.wait_port("server", "127.0.0.1", 443, "caddy")

    def _services(self) -> None:
        c = self.config
        args = [str(c.socket.port), str(c.livekit.port), str(c.livekit.rtc.tcp_port), str(c.livekit.turn.udp_port)]
        if self.livekit_bin:
            args.append("--no-livekit")
            self._livekit()
        self._spawn("services", [sys.executable, str(ROOT / "tests" / "rig_services.py"), *args], cwd=ROOT)
        self.wait_port("server", "127.0.0.1", c.socket.port, "services")

    def _livekit(self) -> None:
        """The real livekit-server with the generated livekit.yaml; two edits, both because there is no internet here."""
        lk = yaml.safe_load(preview_files(self.config, sample=True)[LIVEKIT_YAML])
        lk["rtc"]["use_external_ip"] = False  # no STUN server to learn the public address from
        lk["rtc"]["node_ip"] = SERVER_IP  # the rig's "public" address (on OCI: the 1:1 NAT's)
        self.livekit_key, self.livekit_secret = next(iter(lk["keys"].items()))
        (self.workdir / "livekit.yaml").write_text(yaml.safe_dump(lk, sort_keys=False))
        assert self.livekit_bin is not None
        self._spawn("livekit", [str(self.livekit_bin), "--config", str(self.workdir / "livekit.yaml")], cwd=self.workdir)
        self.wait_port("server", "127.0.0.1", self.config.livekit.port, "livekit")

    def _spawn(self, name: str, cmd: list[str], **kw: Any) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(["ip", "netns", "exec", self.ns["server"], *cmd], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        log.close()

    def wait_port(self, ns: str, ip: str, port: int, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited: {(self.workdir / f'{name}.log').read_text(errors='replace')[-2000:]}")
            if self.run(ns, ["bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}"], check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not listen on {ip}:{port} within {timeout} s")

    def stop(self, name: str) -> None:
        p = self.procs.pop(name, None)
        if p is not None and p.poll() is None:
            os.killpg(p.pid, 15)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait(timeout=10)

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)

    # -- the client side
    def flowstack(self, *args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``flowstack ARGS`` run in the client namespace (a real subprocess, like the user's shell)."""
        return self.run("client", [sys.executable, "-m", "generator.cli", *args], check=False, timeout=timeout, cwd=ROOT,
                        env={**os.environ, **(env or {})})

    def doctor(self, *extra: str, env: dict[str, str] | None = None) -> tuple[int, list[dict[str, str]], str]:
        return self.doctor_with(self.config_path, *extra, env=env)

    def doctor_with(self, config: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, list[dict[str, str]], str]:
        """``flowstack doctor CONFIG --ip <server> --ca-file <test CA> --json``: (exit code, rows, stderr)."""
        p = self.flowstack("doctor", str(config), "--ip", SERVER_IP, "--ca-file", str(self.ca_file), "--timeout", "2", "--json", *extra, env=env)
        try:
            rows = json.loads(p.stdout)
        except ValueError:
            raise AssertionError(f"doctor printed no JSON (exit {p.returncode}): {p.stdout}\n{p.stderr}") from None
        return p.returncode, rows, p.stderr
