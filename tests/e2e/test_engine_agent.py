"""The config agent on the real engine: a day-2 bundle recreates only the service it changes (issue 20, item 5).

Two changes in one stack: livekit.yaml only (the agent's targeted recreate of LiveKit), then the
compose file for the app only (the agent's ``up -d``; compose decides what to recreate).

tests/emit/test_agent_sandbox.py proves the agent's decisions with a ``docker`` recorder (fast);
here the same shipped agent script drives Debian's dockerd with Docker Compose v2.40.3
(tests/rig/engine.py), so what ``docker compose up -d --no-deps --force-recreate livekit``
really does is what is checked: the LiveKit container is replaced and comes back answering
through Caddy, the app and Caddy containers keep their ids and start times.

Real: the agent (the text ``flowstack preview`` ships to the server, run by the machine's
python3 in the engine's namespaces), IMDSv2 semantics from tests/imds_server.py on
169.254.169.254:80 (in the rig's VCN namespace, behind the engine's default route as on OCI),
the bundle made by generator/emit/bundle.py, the compose stack built and started for real.

Replaced, and why: the agent's own files (/etc/flowstack, /var/lib/flowstack, /var/log, its
firewall rules file) live under a root prefix (FLOWSTACK_ROOT) so nothing on the host is
written; its /opt/flowstack is a link to the engine's /opt/flowstack, the directory dockerd
and compose see at that path. Images, npm registry, STUN, TLS: as in tests/e2e/test_engine_variants.py.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rig import engine_images as images
from rig.compose_stack import EngineStack, start_vcn
from rig.engine import Engine, available, plugin_dir
from variants import make_config

from generator.emit.bundle import bundle_value
from generator.core.contract import AGENT_SCRIPT, AGENT_SETTINGS, AGENT_STATE_DIR, BUNDLE_METADATA_KEY
from generator.build.preview import preview_files
from generator.emit.cloudinit import docker_daemon_settings, sample_values

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parents[1]  # tests/: the support modules
NPM_CACHE = Path(os.environ.get("FLOWSTACK_NPM_CACHE", ROOT / ".cache" / "npm"))
SOCKET, LIVEKIT = "space-socket.flow-coder.com", "space-livekit.flow-coder.com"

pytestmark = [pytest.mark.slow, pytest.mark.engine]


def _config(env: dict[str, str] | None = None):
    # The reference stack with the built-in sample app and Caddy's own CA (no ACME here).
    return make_config({"socket": {"git": None, "env": env or {"NODE_ENV": "production"}}, "tls": {"mode": "internal"}})


class AgentServer:
    def __init__(self, engine: Engine, work: Path) -> None:
        self.engine, self.work = engine, work
        self.root, self.served = work / "agent-root", work / "imds"
        self.served.mkdir()
        (self.root / "opt").mkdir(parents=True)
        (self.root / "opt/flowstack").symlink_to(engine.opt)
        files = preview_files(_config(), sample=True)
        for path in (AGENT_SCRIPT, AGENT_SETTINGS):
            target = self.root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files["files" + path])
        (work / "rules.v4").write_text((ROOT / "tests/fixtures/oci-ubuntu-rules.v4").read_text())
        engine.start_in_vcn([sys.executable, str(HERE / "imds_server.py"), "--dir", str(self.served), "--log", str(work / "imds.log")], work / "imds-server.log")
        deadline = time.monotonic() + 20
        while engine.machine(["curl", "-s", "-o", "/dev/null", "--max-time", "2", "http://169.254.169.254/"], check=False).returncode != 0:
            assert time.monotonic() < deadline, (work / "imds-server.log").read_text()
            time.sleep(0.2)

    def serve(self, value: str) -> None:
        (self.served / BUNDLE_METADATA_KEY).write_text(value)

    def agent(self, *args: str) -> str:
        env = ["env", f"FLOWSTACK_ROOT={self.root}", f"FLOWSTACK_RULES_FILE={self.work / 'rules.v4'}"]
        p = self.engine.machine([*env, "python3", str(self.root / AGENT_SCRIPT.lstrip("/")), *args], check=False, timeout=900)
        assert p.returncode == 0, p.stdout + p.stderr + self.log()
        return p.stdout

    def log(self) -> str:
        f = self.root / "var/log/flowstack-agent.log"
        return f.read_text() if f.exists() else ""

    def status(self) -> dict:
        return json.loads((self.root / AGENT_STATE_DIR.lstrip("/") / "status.json").read_text())


@pytest.fixture
def server() -> Iterator[AgentServer]:
    why = available()
    if why:
        pytest.skip(why)
    plugins = plugin_dir()
    if plugins is None:
        pytest.fail("Docker Compose plugin not built: run tools/build-docker-plugins.sh (make docker-plugins)")
    if images.missing_inputs() or not (NPM_CACHE / ".sample-app").exists():
        pytest.fail("missing: " + "; ".join(images.missing_inputs() or [f"{NPM_CACHE} (make sample-app-cache)"]))
    with tempfile.TemporaryDirectory(prefix="fsa", dir="/tmp") as tmp, \
            Engine(Path(tmp), plugins=plugins, daemon_json=docker_daemon_settings()) as eng:
        eng.load(list(images.build(eng).values()))
        start_vcn(eng, Path(tmp) / "vcn.log", NPM_CACHE, no_http=True)
        yield AgentServer(eng, Path(tmp))


def _containers(stack: EngineStack) -> dict[str, tuple[str, str]]:
    ids = stack.compose("ps", "-q", timeout=60).stdout.split()
    return {c["Config"]["Labels"]["com.docker.compose.service"]: (c["Id"], c["State"]["StartedAt"])
            for c in json.loads(stack.engine.docker(["inspect", *ids]).stdout)}


def test_day2_changes_recreate_only_the_affected_service_on_the_real_engine(server: AgentServer) -> None:
    config = _config()
    server.serve(bundle_value(config, sample_values(config), ""))
    server.agent("--now", "--no-restart")  # first boot: the agent writes, the bootstrap starts
    assert server.status()["state"] == "applied"
    stack = EngineStack(server.engine, Path("/nonexistent"))
    stack.up()  # what the bootstrap runs
    before = _containers(stack)
    assert set(before) == {"livekit", "socket", "caddy"}

    server.serve(bundle_value(config, sample_values(config) | {"livekit_api_key": "APINewKey"}, ""))
    server.agent()
    status = server.status()
    assert status["services"] == ["livekit"], status
    after = _containers(stack)
    assert after["livekit"][0] != before["livekit"][0], "LiveKit was not recreated"
    assert after["socket"] == before["socket"] and after["caddy"] == before["caddy"], (before, after)
    # The recreated LiveKit runs the new key and answers through Caddy; everything is healthy.
    assert b"APINewKey" in (server.engine.opt / "livekit.yaml").read_bytes()
    state = stack.wait_healthy()
    assert all(s["status"] == "running" and s["health"] in (None, "healthy") for s in state.values()), state
    lk = stack.https(LIVEKIT, "/")
    assert lk.returncode == 0 and lk.stdout.strip() == "OK", lk.stderr + stack.logs()

    server.agent()  # applied once: the timer's next run changes nothing
    assert server.status()["state"] == "unchanged" and _containers(stack) == after

    # A compose change that concerns only the app (a new environment value): the agent's
    # `up -d` lets compose compare each service's config, so only the app is recreated.
    changed = _config({"NODE_ENV": "production", "GREETING": "hello"})
    server.serve(bundle_value(changed, sample_values(changed) | {"livekit_api_key": "APINewKey"}, ""))
    server.agent()
    last = _containers(stack)
    assert last["socket"][0] != after["socket"][0], "the app was not recreated"
    assert last["livekit"] == after["livekit"] and last["caddy"] == after["caddy"], (after, last)
    env = stack.engine.docker(["inspect", last["socket"][0], "--format", "{{json .Config.Env}}"]).stdout
    assert "GREETING=hello" in env
    state = stack.wait_healthy()
    assert all(s["status"] == "running" and s["health"] in (None, "healthy") for s in state.values()), state
