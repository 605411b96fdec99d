"""Issue 15, review of the config agent: how it applies a bundle when things go wrong.

The same sandbox as tests/emit/test_agent_sandbox.py (its Server): the shipped agent script run by
python3 in a network namespace against tests/imds_server.py on 169.254.169.254, writing into a
temp root (FLOWSTACK_ROOT). Replaced: `docker` by the recorder executable (no Docker engine
runs here); the clock of the apply_at decision by FLOWSTACK_AGENT_CLOCK. Git is real (a clone
from 127.0.0.1 inside the namespace, where nothing listens).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import shutil

import pytest
import test_agent_sandbox
from agent_support import unpack
from test_agent_sandbox import CHECK, Server, _bundle, _first_boot, _reseal
from variants import bumped_image, make_config

from generator.core.contract import AGENT_STATE_DIR, COMPOSE_FILE, LIVEKIT_CONFIG

server = test_agent_sandbox.server  # the sandbox's fixture: one Server per test, closed after
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2")

DRAIN_LIVEKIT = f"docker compose -f {COMPOSE_FILE} stop -t 300 livekit"  # SIGTERM: LiveKit drains (issue 21 item 9)
RECREATE_LIVEKIT = f"docker compose -f {COMPOSE_FILE} up -d --no-deps --force-recreate livekit"


def _state(server: Server, path: str) -> tuple[bytes, int] | None:
    """A file's bytes and mode, or None when it is absent."""
    target = server.root / path.lstrip("/")
    return (target.read_bytes(), target.stat().st_mode & 0o777) if target.exists() else None


def _current(server: Server) -> dict:
    return json.loads((server.root / AGENT_STATE_DIR.lstrip("/") / "current.json").read_text())


def test_a_write_error_part_way_restores_every_file_and_reports_it(server: Server) -> None:
    _first_boot(server)
    applied = server.status()["applied_digest"]
    doc = unpack(_bundle(make_config({"livekit": {"image": bumped_image()}}), livekit_api_key="APINewKey"))
    next(f for f in doc["files"] if f["path"] == LIVEKIT_CONFIG)["mode"] = "0640"  # a mode to undo as well
    doc["files"].append({"path": "/opt/flowstack/added.txt", "mode": "0644", "encoding": "text", "service": "none", "content": "new\n"})
    doc["files"].append({"path": "/opt/flowstack/zz.json", "mode": "0644", "encoding": "text", "service": "none", "content": "{}"})
    paths = [f["path"] for f in doc["files"]]
    before = {p: _state(server, p) for p in paths}
    assert before["/opt/flowstack/added.txt"] is None
    (server.root / "opt/flowstack/zz.json").mkdir()  # the last file cannot be replaced (as on a full or read-only disk)
    server.serve(_reseal(doc))
    r, calls = server.agent()
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert {p: _state(server, p) for p in paths if p != "/opt/flowstack/zz.json"} == {p: v for p, v in before.items() if p != "/opt/flowstack/zz.json"}
    status = server.status()
    assert status["state"] == "error" and status["applied_digest"] == applied, status
    assert "writing the files failed" in status["message"] and "Is a directory" in status["message"] and "old files are restored" in status["message"]
    assert status["message"] in server.log().splitlines()[-1]
    assert _current(server)["digest"] == applied
    assert not [c for c in calls if " up " in c]
    # Once the obstacle is gone, the next run applies the whole bundle.
    (server.root / "opt/flowstack/zz.json").rmdir()
    r, calls = server.agent()
    assert r.returncode == 0 and server.status()["state"] == "applied", r.stdout
    assert _state(server, LIVEKIT_CONFIG)[1] == 0o640 and server.file("/opt/flowstack/zz.json") == b"{}"


def test_the_compose_check_reads_temp_copies_and_writes_nothing_live(server: Server) -> None:
    config = make_config({"socket": {"secret_env": ["API_TOKEN"]}})
    server.serve(_bundle(config, socket_secret_api_token="first-token"))
    r, calls = server.agent("--now", "--no-restart")
    assert r.returncode == 0, r.stdout + r.stderr
    env = next(f for f in unpack(_bundle(config, socket_secret_api_token="first-token"))["files"] if f["path"].endswith(".env"))
    data = base64.b64decode(env["content"]) if env["encoding"] == "b64" else env["content"].encode()
    # The env file compose reads is the bundle's (a temp copy): not on disk yet at first boot.
    assert calls[:2] == [CHECK, f"env file read: {hashlib.sha256(data).hexdigest()[:12]}"], calls
    assert data == server.file(env["path"])
    assert "LIVE COMPOSE ALREADY WRITTEN" not in calls
    assert not list((server.root / AGENT_STATE_DIR.lstrip("/")).glob("compose-check.*"))  # the temp copies are gone

    # A broken compose file with a livekit.yaml mode change: refused before anything is written.
    good = {p: _state(server, p) for p in (COMPOSE_FILE, LIVEKIT_CONFIG, env["path"])}
    doc = unpack(_bundle(config, socket_secret_api_token="second-token", livekit_api_key="APINewKey"))
    doc["files"][0]["content"] += "# BROKEN-COMPOSE\n"
    next(f for f in doc["files"] if f["path"] == LIVEKIT_CONFIG)["mode"] = "0644"
    server.serve(_reseal(doc))
    for _ in range(2):  # every timer run: the live files are never touched
        r, calls = server.agent()
        assert r.returncode == 1 and server.status()["state"] == "refused", r.stdout
        assert "docker compose config rejects" in server.status()["message"]
        assert CHECK in calls and "LIVE COMPOSE ALREADY WRITTEN" not in calls, calls
        assert {p: _state(server, p) for p in good} == good


def test_a_change_of_mode_alone_is_applied(server: Server) -> None:
    _first_boot(server)
    doc = unpack(_bundle())
    next(f for f in doc["files"] if f["path"] == LIVEKIT_CONFIG)["mode"] = "0640"
    content = server.file(LIVEKIT_CONFIG)
    server.serve(_reseal(doc))
    r, calls = server.agent()
    assert r.returncode == 0 and server.status()["state"] == "applied", r.stdout
    assert server.status()["changed"] == [LIVEKIT_CONFIG] and calls == [DRAIN_LIVEKIT, RECREATE_LIVEKIT]
    assert _state(server, LIVEKIT_CONFIG) == (content, 0o640)
    assert _current(server)["files"][LIVEKIT_CONFIG]["mode"] == "0640"


def test_a_change_seen_in_the_quiet_minute_applies_in_it_also_across_midnight(server: Server) -> None:
    _first_boot(server)
    server.serve(_bundle(apply_at="00:00", livekit_api_key="APIMidnight"))
    r, calls = server.agent(clock="2026-12-02T23:58")
    assert server.status()["state"] == "pending" and server.status()["pending_until"] == "2026-12-03 00:00" and calls == []
    r, calls = server.agent(clock="2026-12-03T00:00")
    assert r.returncode == 0 and server.status()["state"] == "applied" and calls == [DRAIN_LIVEKIT, RECREATE_LIVEKIT]
    assert b"APIMidnight" in server.file(LIVEKIT_CONFIG)
    # First seen at the quiet minute itself (23:59, the last of the day): applied then, not a day later.
    server.serve(_bundle(apply_at="23:59", livekit_api_key="APILate"))
    r, calls = server.agent(clock="2026-12-03T23:59")
    assert r.returncode == 0 and server.status()["state"] == "applied", server.status()
    assert b"APILate" in server.file(LIVEKIT_CONFIG) and calls == [DRAIN_LIVEKIT, RECREATE_LIVEKIT]
    # A minute later it waits for the next day's quiet minute.
    server.serve(_bundle(apply_at="23:59", livekit_api_key="APINext"))
    r, calls = server.agent(clock="2026-12-04T00:00")
    assert server.status()["state"] == "pending" and server.status()["pending_until"] == "2026-12-04 23:59"


def test_files_left_out_of_a_new_bundle_are_deleted_and_nothing_else(server: Server) -> None:
    origin = make_config({"tls": {"mode": "cloudflare_origin"}})
    server.serve(_bundle(origin))
    r, _ = server.agent("--now", "--no-restart")
    assert r.returncode == 0, r.stdout + r.stderr
    key, cert = "/opt/flowstack/certs/origin-key.pem", "/opt/flowstack/certs/origin.pem"
    assert server.file(key) and server.file(cert)
    # A file the user put there and one outside the allowed roots (current.json edited by hand) stay.
    mine = server.root / "opt/flowstack/notes.txt"
    mine.write_text("mine\n")
    state = server.root / AGENT_STATE_DIR.lstrip("/") / "current.json"
    doc = _current(server)
    doc["files"]["/etc/flowstack/agent.json"] = copy.deepcopy(doc["files"][COMPOSE_FILE])
    state.write_text(json.dumps(doc))
    server.serve(_bundle(make_config({})))  # tls mode acme: no origin certificate or key
    r, calls = server.agent()
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (server.root / key.lstrip("/")).exists() and not (server.root / cert.lstrip("/")).exists()
    assert mine.read_text() == "mine\n" and (server.root / "etc/flowstack/agent.json").exists()
    status = server.status()
    assert status["removed"] == sorted([cert, key]) and "caddy" in status["services"]
    assert f"removed: {key}, {cert}" in server.log().splitlines()[-1]
    assert f"docker compose -f {COMPOSE_FILE} up -d --no-deps --force-recreate caddy" in calls


def test_a_failed_clone_logs_no_url(server: Server) -> None:
    token = "ghp_S3CRETTOKEN"
    # Credentials in the URL are refused outright (the git URL rule has no user:token@), and the
    # refusal does not echo the URL either.
    server.serve(_bundle(socket_git_url=f"https://bob:{token}@127.0.0.1:9/app.git", socket_git_ref="main"))
    r, _ = server.agent("--now", "--no-restart")
    assert r.returncode == 0, r.stdout + r.stderr
    r, _ = server.agent("--fetch-source")
    assert r.returncode == 1
    assert server.log().splitlines()[-1].endswith("does not hold a valid git URL and ref")
    assert token not in server.log()
    # A URL the rule accepts can still carry something private (here in its path): a failed clone
    # logs only git's exit code. Inside the namespace nothing listens on 127.0.0.1:9.
    url = f"https://127.0.0.1:9/{token}/app.git"
    server.serve(_bundle(socket_git_url=url, socket_git_ref="main"))
    r, _ = server.agent("--now", "--no-restart")
    assert r.returncode == 0, r.stdout + r.stderr
    r, _ = server.agent("--fetch-source")
    assert r.returncode == 1
    assert server.log().splitlines()[-1].endswith("cannot fetch the app source: git clone failed (exit 128)")
    # The timer's run on a new ref: the same reason in the status, still without the URL.
    server.serve(_bundle(socket_git_url=url, socket_git_ref="v2"))
    r, _ = server.agent()
    assert r.returncode == 1 and "git clone failed (exit 128)" in server.status()["message"]
    for text in (server.log(), r.stdout, r.stderr, json.dumps(server.status())):
        assert token not in text and "127.0.0.1:9" not in text
