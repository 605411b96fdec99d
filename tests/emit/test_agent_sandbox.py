"""Issue 15: the config agent on a sandboxed "server", against a local metadata endpoint.

What is real and what is replaced:
- the agent is the script the server gets (its shipped text, generator/emit/agent.py), run by
  python3 with its settings file, reading the bundle over HTTP with IMDSv2's header;
- the metadata service is tests/imds_server.py bound to 169.254.169.254:80 inside a network
  namespace created here (the agent runs in the same namespace; no packet leaves it); the
  test switches bundles (old, new, broken) by rewriting the file it serves;
- the file system: the agent runs with a root directory prefix (FLOWSTACK_ROOT, which the
  agent puts before every path it reads or writes), so it writes into a temp tree;
- `docker` is a recorder executable on PATH, kept for the fast suite (the agent's decisions in
  seconds, no engine; tests/e2e/test_engine_agent.py runs the same agent against the real engine
  rig, tests/rig/engine.py): it logs each call and fails `compose config -q` on a compose file marked BROKEN-COMPOSE (as the real
  command fails on an invalid file) or naming an env file that does not exist (as compose
  does); it also notes when the live compose file already holds the checked text;
- the firewall script is the real one from the bundle, run live with real iptables inside
  the namespace (its rules file redirected into the temp tree);
- the clock for the apply_at decision comes from the agent's test seam FLOWSTACK_AGENT_CLOCK.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_support import pack, unpack
from variants import bumped_image, make_config

from generator.build.preview import preview_files
from generator.config.load import parse_config
from generator.config.schema import StackConfig
from generator.core.contract import AGENT_LOG, AGENT_SCRIPT, AGENT_SETTINGS, AGENT_STATE_DIR, APP_DIR, BUNDLE_METADATA_KEY, COMPOSE_FILE, LIVEKIT_CONFIG
from generator.derive.bootnames import HOSTNAMES_ENV, HOSTNAMES_SETTINGS
from generator.emit.bundle import bundle_digest, bundle_value
from generator.emit.cloudinit import sample_values

HERE = Path(__file__).resolve().parents[1]  # tests/, where the support programs are
IMDS = "169.254.169.254"
SECRET = sample_values(make_config({}))["livekit_api_secret"]

DOCKER = """#!/bin/sh
echo "docker $*" >> "$CALLS"
if [ "$6" = config ]; then
  cmp -s "$3" "$FLOWSTACK_ROOT/opt/flowstack/docker-compose.yml" && echo "LIVE COMPOSE ALREADY WRITTEN" >> "$CALLS"
  for env in $(grep -o '/[^ ]*[.]env' "$3"); do
    [ -e "$env" ] || env="$FLOWSTACK_ROOT$env"  # a path on the server: in the temp root here
    [ -e "$env" ] || { echo "env file $env not found" >&2; exit 1; }
    echo "env file read: $(sha256sum < "$env" | cut -c1-12)" >> "$CALLS"
  done
  if grep -q BROKEN-COMPOSE "$3"; then echo "yaml: line 1: did not find expected key (injected)" >&2; exit 1; fi
fi
exit 0
"""
# LiveKit drains first (SIGTERM, stop_grace_period = livekit.drain_seconds), then is recreated (issue 21 item 9).
DRAIN_AND_RECREATE_LIVEKIT = [f"docker compose -f {COMPOSE_FILE} stop -t 300 livekit",
                              f"docker compose -f {COMPOSE_FILE} up -d --no-deps --force-recreate livekit"]
# After a change that built an image (issue 21 item 5): dangling images and build cache.
PRUNE = ["docker image prune -f", "docker builder prune -f"]
# The compose check runs on a temp copy in the state directory (its name is random).
CHECK = f"docker compose -f {AGENT_STATE_DIR}/compose-check.X/docker-compose.yml --project-directory {APP_DIR} config -q"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2")


def _system_bin_without_docker(dest: Path) -> Path:
    """A directory of links to every tool in the standard system directories except Docker's
    (docker, dockerd, docker-compose...): "no docker on PATH" whatever this machine has installed."""
    dest.mkdir()
    for folder in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        for entry in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else ():
            link = dest / entry.name
            if entry.name.startswith("docker") or link.exists() or link.is_symlink():
                continue
            link.symlink_to(entry)
    return dest


class Server:
    """One namespace with the metadata endpoint and a temp root the agent writes into."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.ns = tmp, f"fsag-{os.getpid()}-{secrets.token_hex(3)}"
        self.root, self.served, self.calls = tmp / "root", tmp / "imds", tmp / "docker-calls.log"
        self.served.mkdir()
        (tmp / "bin").mkdir()
        (tmp / "bin" / "docker").write_text(DOCKER)
        (tmp / "bin" / "docker").chmod(0o755)
        self.system_bin = _system_bin_without_docker(tmp / "system-bin")
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.exec(["ip", "link", "set", "lo", "up"])
        self.exec(["ip", "addr", "add", f"{IMDS}/32", "dev", "lo"])
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable, str(HERE / "imds_server.py"),
                                      "--dir", str(self.served), "--log", str(tmp / "imds.log")], start_new_session=True)
        for _ in range(100):
            if self.exec(["bash", "-c", f"exec 3<>/dev/tcp/{IMDS}/80"], check=False).returncode == 0:
                break
            time.sleep(0.1)
        files = preview_files(make_config({}), sample=True)  # the boot-only files the agent needs
        for path in (AGENT_SCRIPT, AGENT_SETTINGS):
            target = self.root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files["files" + path])

    def exec(self, cmd: list[str], check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.ns, *cmd], check=check, capture_output=True, text=True, timeout=60, env=env)

    def close(self) -> None:
        os.killpg(self.proc.pid, 15)
        self.proc.wait(10)
        subprocess.run(["ip", "netns", "del", self.ns], check=False)

    def serve(self, value: str) -> None:
        (self.served / BUNDLE_METADATA_KEY).write_text(value)

    def agent(self, *args: str, clock: str | None = None, extra: dict[str, str] | None = None,
              docker: bool = True) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        """Run the agent once (docker=False: no `docker` on PATH, as at first boot); returns
        (result, docker calls made by this run)."""
        before = self.docker_calls()
        # A PATH this test builds: the recorder (or nothing) for docker, then the system's tools
        # without any docker, so a machine with Docker installed gives the same runs.
        env = {"PATH": (f"{self.tmp / 'bin'}:" if docker else "") + str(self.system_bin), "FLOWSTACK_ROOT": str(self.root), "CALLS": str(self.calls),
               "FLOWSTACK_RULES_FILE": str(self.tmp / "rules.v4")}
        assert docker or shutil.which("docker", path=env["PATH"]) is None, "the no-docker PATH must hold no docker"
        if clock:
            env["FLOWSTACK_AGENT_CLOCK"] = clock
        env.update(extra or {})
        r = self.exec(["python3", str(self.root / AGENT_SCRIPT.lstrip("/")), *args], check=False, env=env)
        return r, self.docker_calls()[len(before):]

    def docker_calls(self) -> list[str]:
        text = self.calls.read_text() if self.calls.exists() else ""
        return [re.sub(r"compose-check\.[^/]+/", "compose-check.X/", line.replace(str(self.root), "")) for line in text.splitlines()]

    def file(self, path: str) -> bytes:
        return (self.root / path.lstrip("/")).read_bytes()

    def status(self) -> dict[str, Any]:
        return json.loads((self.root / AGENT_STATE_DIR.lstrip("/") / "status.json").read_text())

    def log(self) -> str:
        return (self.root / AGENT_LOG.lstrip("/")).read_text()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path)
    try:
        yield s
    finally:
        s.close()


def _bundle(config: StackConfig | None = None, apply_at: str = "", **values: str) -> str:
    config = config or make_config({})
    return bundle_value(config, sample_values(config) | values, apply_at)


def _reseal(doc: dict[str, Any]) -> str:
    """A bundle edited after Terraform made it, with matching hashes (only its own checks catch it)."""
    for f in doc["files"]:
        f["sha256"] = hashlib.sha256(f["content"].encode()).hexdigest()
    doc["digest"] = bundle_digest(doc["files"])
    return pack(doc)


def _first_boot(server: Server) -> None:
    server.serve(_bundle())
    r, calls = server.agent("--now", "--no-restart")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not [c for c in calls if " up " in c or "restart" in c]  # first boot: the bootstrap starts everything
    assert server.status()["state"] == "applied"


def test_applies_a_new_bundle_once_and_restarts_only_the_changed_service(server: Server) -> None:
    _first_boot(server)
    assert oct((server.root / LIVEKIT_CONFIG.lstrip("/")).stat().st_mode & 0o777) == "0o600"
    assert SECRET.encode() in server.file(LIVEKIT_CONFIG)
    # The metadata service was asked with IMDSv2's header, and only it was asked.
    requests = [{k: v for k, v in json.loads(line).items() if k != "t"}  # t: when (the VM rig's fault timing)
                for line in (server.tmp / "imds.log").read_text().splitlines()]
    assert requests and all(q == {"path": f"/opc/v2/instance/metadata/{BUNDLE_METADATA_KEY}", "authorization": "Bearer Oracle", "status": 200}
                            for q in requests)

    r, calls = server.agent()  # the timer, nothing new: nothing runs
    assert r.returncode == 0 and calls == [] and server.status()["state"] == "unchanged"

    # Only livekit.yaml changes (a new API key name): only LiveKit is recreated.
    server.serve(_bundle(livekit_api_key="APINewKey"))
    r, calls = server.agent()
    assert r.returncode == 0, r.stdout + r.stderr
    assert calls == DRAIN_AND_RECREATE_LIVEKIT
    assert b"APINewKey" in server.file(LIVEKIT_CONFIG)
    assert server.status()["changed"] == [LIVEKIT_CONFIG] and server.status()["services"] == ["livekit"]
    r, calls = server.agent()  # applied once: the second run does nothing
    assert calls == [] and server.status()["state"] == "unchanged"

    # A LiveKit version bump changes the compose file: checked, then `up -d` recreates what changed.
    server.serve(_bundle(make_config({"livekit": {"image": bumped_image()}}), livekit_api_key="APINewKey"))
    r, calls = server.agent()
    assert r.returncode == 0, r.stdout + r.stderr
    assert calls == [CHECK, f"docker compose -f {COMPOSE_FILE} up -d --remove-orphans", *PRUNE]
    assert f"image: {bumped_image()}".encode() in server.file(COMPOSE_FILE)
    assert "applied bundle" in server.log() and "docker-compose.yml" in server.log()
    # The secret never reaches the log or the state files.
    for name in ("status.json", "current.json"):
        assert SECRET not in (server.root / AGENT_STATE_DIR.lstrip("/") / name).read_text()
    assert SECRET not in server.log() and SECRET not in r.stdout


def test_a_firewall_change_reruns_the_real_firewall_script(server: Server) -> None:
    _first_boot(server)
    config = make_config({"extra_ports": [{"protocol": "tcp", "port": 8443, "reason": "admin console"}]})
    server.serve(_bundle(config))
    r, calls = server.agent()
    assert r.returncode == 0, r.stdout + r.stderr
    assert server.status()["services"] == ["firewall"] and calls == []
    rules = server.exec(["iptables", "-S", "FLOWSTACK-INPUT"]).stdout
    assert "--dport 8443 -j ACCEPT" in rules  # applied live, in the namespace
    assert "--dport 8443 -j ACCEPT" in (server.tmp / "rules.v4").read_text()


def test_refuses_a_broken_bundle_and_keeps_the_running_files(server: Server) -> None:
    _first_boot(server)
    good = {p: server.file(p) for p in (COMPOSE_FILE, LIVEKIT_CONFIG)}
    new = unpack(_bundle(livekit_api_key="APINewKey"))

    tampered = copy.deepcopy(new)
    tampered["files"][1]["content"] += "# changed on the way\n"  # its sha256 no longer matches
    broken_compose = copy.deepcopy(new)
    broken_compose["files"][0]["content"] += "# BROKEN-COMPOSE\n"
    outside = copy.deepcopy(new)
    outside["files"][1]["path"] = "/etc/sudoers.d/flowstack"
    cases = [(pack(tampered), "content does not match its sha256"), ("not base64 at all!", "does not decode"),
             (_reseal(broken_compose), "docker compose config rejects"), (_reseal(outside), "is not a path the agent may write")]
    for value, reason in cases:
        server.serve(value)
        r, calls = server.agent()
        assert r.returncode == 1, (reason, r.stdout)
        assert not [c for c in calls if " up " in c], calls
        status = server.status()
        assert status["state"] == "refused" and reason in status["message"], status
        assert reason in server.log().splitlines()[-1]
        assert {p: server.file(p) for p in good} == good  # the running files stay
    assert not (server.root / "etc/sudoers.d").exists()


def test_holds_a_change_until_the_quiet_hour(server: Server) -> None:
    _first_boot(server)
    old = server.file(LIVEKIT_CONFIG)
    server.serve(_bundle(apply_at="03:00", livekit_api_key="APINewKey"))
    for clock in ("2026-12-02T14:10", "2026-12-03T02:59"):
        r, calls = server.agent(clock=clock)
        assert r.returncode == 0 and calls == []
        assert server.status()["state"] == "pending" and server.status()["pending_until"] == "2026-12-03 03:00"
        assert "pending until 2026-12-03 03:00" in server.log().splitlines()[-1]
        assert server.file(LIVEKIT_CONFIG) == old
    assert server.log().count("pending until") == 1  # one line per event, not one per run
    r, calls = server.agent(clock="2026-12-03T03:02")
    assert r.returncode == 0 and server.status()["state"] == "applied"
    assert calls == DRAIN_AND_RECREATE_LIVEKIT
    # Only apply_at changes now: same digest, nothing is applied again.
    server.serve(_bundle(apply_at="04:00", livekit_api_key="APINewKey"))
    r, calls = server.agent(clock="2026-12-03T03:10")
    assert calls == [] and server.status()["state"] == "unchanged"


def test_fills_the_boot_steps_names_into_files_it_rewrites(server: Server) -> None:
    """sslip.io names: the boot step fills its marks into livekit.yaml (keeping livekit.yaml.in);
    a later bundle must not bring the marks back."""
    config = parse_config("name: firstrun\nlivekit: {turn: {tls_port: 5349, via_caddy: true}}\n")
    files = preview_files(config, sample=True)
    settings = server.root / HOSTNAMES_SETTINGS.lstrip("/")
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_bytes(files["files" + HOSTNAMES_SETTINGS])
    server.serve(_bundle(config))
    # First boot: Docker is not installed yet (and the boot step has not written hostnames.env,
    # which the compose file names as an env_file): the compose check is skipped.
    r, calls = server.agent("--now", "--no-restart", docker=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert calls == []
    assert b"__FLOWSTACK_TURN_HOST__" in server.file(LIVEKIT_CONFIG)  # first boot: the boot step runs next
    env = server.root / HOSTNAMES_ENV.lstrip("/")
    env.write_text("PUBLIC_IP=203.0.113.7\nSOCKET_HOST=socket.203-0-113-7.sslip.io\nTURN_HOST=turn.203-0-113-7.sslip.io\n")
    server.serve(_bundle(config, livekit_api_key="APINewKey"))
    r, calls = server.agent()
    assert r.returncode == 0, r.stdout + r.stderr
    live = server.file(LIVEKIT_CONFIG)
    assert b"turn.203-0-113-7.sslip.io" in live and b"__FLOWSTACK_" not in live and b"APINewKey" in live
    assert b"__FLOWSTACK_TURN_HOST__" in server.file(LIVEKIT_CONFIG + ".in")  # the pristine copy for the boot step
    assert calls == DRAIN_AND_RECREATE_LIVEKIT


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *args], cwd=cwd, check=True, capture_output=True)


def test_a_new_git_ref_is_cloned_built_and_only_the_app_recreated(server: Server) -> None:
    """Real git: https://git.example.test/ is mapped to a local repository by git's own
    url.insteadOf (GIT_CONFIG_GLOBAL), so the clone reads files and sends no packet."""
    repo = server.tmp / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "server.js").write_text("// v1\n")
    _git(repo, "add", "server.js")
    _git(repo, "commit", "-q", "-m", "v1")
    _git(repo, "tag", "v1")
    (repo / "server.js").write_text("// v2\n")
    _git(repo, "commit", "-q", "-am", "v2")
    _git(repo, "tag", "v2")
    gitconfig = server.tmp / "gitconfig"
    gitconfig.write_text(f'[url "file://{repo}/"]\n\tinsteadOf = https://git.example.test/\n[safe]\n\tdirectory = *\n')
    extra = {"GIT_CONFIG_GLOBAL": str(gitconfig), "HOME": str(server.tmp)}
    url = "https://git.example.test/"  # -> the local repository, by insteadOf
    server.serve(_bundle(socket_git_url=url, socket_git_ref="v1"))
    r, _ = server.agent("--now", "--no-restart", extra=extra)
    assert r.returncode == 0, r.stdout + r.stderr
    r, _ = server.agent("--fetch-source", extra=extra)  # the bootstrap's step 4
    assert r.returncode == 0, r.stdout + r.stderr
    assert server.file("/opt/flowstack/app/server.js") == b"// v1\n"

    server.serve(_bundle(socket_git_url=url, socket_git_ref="v2"))
    r, calls = server.agent(extra=extra)
    assert r.returncode == 0, r.stdout + r.stderr
    assert server.file("/opt/flowstack/app/server.js") == b"// v2\n"
    assert calls == [f"docker compose -f {COMPOSE_FILE} build socket", f"docker compose -f {COMPOSE_FILE} up -d --no-deps --force-recreate socket", *PRUNE]
    assert server.status()["services"] == ["socket-build"]
