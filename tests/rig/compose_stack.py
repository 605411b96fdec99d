"""The generated stack under the real engine: files in /opt/flowstack, ``docker compose up``, checks.

``flowstack preview CONFIG --sample -o DIR`` gives the server's files (deploy-time values
filled with the sample ones); ``EngineStack.install`` puts DIR/files/opt/flowstack where the
engine's mount namespace has /opt/flowstack, unchanged, so the compose file's absolute paths,
build context and bind mounts are the generated ones. ``up`` runs ``docker compose config``
then ``up -d --wait`` on the server; ``health`` reads every container's state and health from
``docker inspect``; ``https`` asks Caddy on the server's 127.0.0.1:443 with SNI (curl
``--resolve``) and Caddy's own CA.

Nothing in the generated files is edited. What the rig gives instead of the internet is in the
VCN namespace (tests/rig/vcn_services.py): DNS on 169.254.169.254 that points Google's STUN
names (LiveKit's defaults when livekit.yaml names none) at the rig's STUN responder, and the npm
registry the node image's npm uses.

Example:
    stack = EngineStack(engine, preview_dir)
    stack.install(); stack.up()
    assert stack.https("space-livekit.flow-coder.com", "/").stdout == "OK"
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import ENGINE_IP, VCN_IP, Engine

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = "/opt/flowstack/docker-compose.yml"
STUN_PORT = 19302
NPM_PORT = 4873
VCN_SERVICES = Path(__file__).resolve().parent / "vcn_services.py"
SAMPLE_LOCK = ROOT / "templates" / "sample-app" / "package-lock.json"
# LiveKit's default STUN servers (livekit-server pkg/config): what it asks with use_external_ip.
STUN_NAMES = ("stun.l.google.com", "stun1.l.google.com")


def preview(config: Path, out: Path, *extra: str) -> Path:
    """Run the real CLI: ``flowstack preview CONFIG --sample -o OUT``."""
    exe = Path(sys.executable).parent / "flowstack"
    subprocess.run([str(exe), "preview", str(config), "--sample", "-o", str(out), *extra], check=True, capture_output=True, text=True, timeout=120)
    return out


def start_vcn(engine: Engine, log: Path, npm_cache: Path | None, records: dict[str, str] | None = None, *, no_http: bool = False) -> subprocess.Popen[Any]:
    """DNS/IMDS/STUN (and the npm registry when ``npm_cache``) in the VCN namespace; returns when bound."""
    recs = {name: VCN_IP for name in STUN_NAMES} | (records or {})
    cmd = [sys.executable, str(VCN_SERVICES), "--stun", f"{VCN_IP}:{STUN_PORT}"] + (["--no-http"] if no_http else [])
    if npm_cache is not None:
        cmd += ["--npm", f"{VCN_IP}:{NPM_PORT}", str(SAMPLE_LOCK), str(npm_cache)]
    proc = engine.start_in_vcn(cmd + [f"{k}={v}" for k, v in recs.items()], log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if "READY" in log.read_text(errors="replace"):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"VCN services did not start:\n{log.read_text(errors='replace')[-3000:]}")


@dataclass
class EngineStack:
    engine: Engine
    preview_dir: Path

    def install(self) -> None:
        """The generated /opt/flowstack, fresh (a previous variant's files and Caddy data removed)."""
        opt = self.engine.opt
        for child in opt.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        shutil.copytree(self.preview_dir / "files/opt/flowstack", opt, dirs_exist_ok=True)

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.engine.machine(["docker", "compose", "-f", COMPOSE, *args], timeout=timeout, check=check)

    def up(self, wait_timeout: int = 240) -> subprocess.CompletedProcess[str]:
        """``docker compose config`` (must pass), then ``up -d --wait`` (running, and healthy where a healthcheck exists)."""
        self.compose("config", "-q", timeout=60)
        return self.compose("up", "-d", "--wait", "--wait-timeout", str(wait_timeout), timeout=wait_timeout + 600)

    def down(self) -> None:
        self.compose("down", "--remove-orphans", "--timeout", "10", timeout=180, check=False)

    def health(self) -> dict[str, dict[str, Any]]:
        """service -> {"status", "health" (None without a healthcheck), "restarts", "image"} from docker inspect."""
        ids = self.compose("ps", "-aq", timeout=60).stdout.split()
        out: dict[str, dict[str, Any]] = {}
        if not ids:
            return out
        for c in json.loads(self.engine.docker(["inspect", *ids]).stdout):
            svc = c["Config"]["Labels"].get("com.docker.compose.service", c["Name"])
            h = c["State"].get("Health")
            out[svc] = {"status": c["State"]["Status"], "health": h["Status"] if h else None,
                        "restarts": c["RestartCount"], "image": c["Config"]["Image"], "has_healthcheck": bool(c["Config"].get("Healthcheck"))}
        return out

    def wait_healthy(self, timeout: float = 180) -> dict[str, dict[str, Any]]:
        """Until every container runs and every healthcheck passes; the last state otherwise (for the assertion)."""
        deadline = time.monotonic() + timeout
        state = self.health()
        while time.monotonic() < deadline:
            if state and all(s["status"] == "running" and s["health"] in (None, "healthy") for s in state.values()):
                return state
            time.sleep(1)
            state = self.health()
        return state

    def ca(self) -> Path:
        """Caddy's internal root (``tls internal``), as Caddy wrote it under /opt/flowstack/caddy-data."""
        for p in (self.engine.opt / "caddy-data/caddy/pki/authorities/local/root.crt", self.engine.opt / "caddy-data/pki/authorities/local/root.crt"):
            if p.exists():
                return p
        raise FileNotFoundError("Caddy wrote no internal root under /opt/flowstack/caddy-data")

    def https(self, host: str, path: str, *, port: int = 443, cacert: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """curl on the server: https://host:port/path to 127.0.0.1 with SNI ``host``, trusting ``cacert`` (default Caddy's root); retried until 2xx or ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                ca = cacert or self.ca()
                p = self.engine.machine(["curl", "-sS", "--fail", "--max-time", "10", "--resolve", f"{host}:{port}:127.0.0.1",
                                         "--cacert", str(ca), f"https://{host}:{port}{path}"], check=False, timeout=30)
            except FileNotFoundError as e:
                p = subprocess.CompletedProcess([], 1, "", str(e))
            if p.returncode == 0 or time.monotonic() > deadline:
                return p
            time.sleep(1)

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "60", timeout=60, check=False).stdout


def engine_address() -> str:
    """The server's private address (the STUN responder reports it as the public one)."""
    return ENGINE_IP
