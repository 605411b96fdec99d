"""Issue 21 items 4 and 5: the server agent's `--status-json` and how `status`/`doctor` show it.

Real: the agent is the shipped script (tests/agent_support.py loads the text the server gets);
its state files are written by its own functions (a failed attempt, a held change, a finished
run), in a temp tree it reads through its FLOWSTACK_ROOT prefix; the failing login is OpenSSH's
own ssh client against a loopback port where nothing listens. Nothing is replaced in the
formatting tests: they take the document the real agent printed.
tests/ops/test_status_ssh.py runs the whole way through a real sshd.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from agent_support import load_agent
from click.testing import CliRunner

from generator.cli import cli
from generator.core.contract import AGENT_SETTINGS, AGENT_STATE_DIR
from generator.core.errors import InvalidOption
from generator.emit.agent import agent_settings
from generator.ops import agentssh, doctor, status
from generator.ops.agentssh import SshRequest, SshTarget

CLOCK = "2026-12-07T10:00"
DIGEST = "3f2a9c1e0b7d" + "0" * 52


def _agent(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FLOWSTACK_ROOT", str(tmp / "root"))
    monkeypatch.setenv("FLOWSTACK_AGENT_CLOCK", CLOCK)
    settings = tmp / "root" / AGENT_SETTINGS.lstrip("/")
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps(agent_settings()))
    return load_agent(tmp)


def _tree(root: Path) -> dict[str, tuple[int, float]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime) for p in sorted(root.rglob("*"))}


def _status_json(agent: Any, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert agent.main(["flowstack-agent", "--status-json"]) == 0
    return json.loads(capsys.readouterr().out)


def _failed_state(agent: Any, tmp: Path) -> Path:
    """What the agent leaves after a change failed once: attempts.json and status.json, by its own code."""
    settings = agent_settings()
    state = tmp / "root" / AGENT_STATE_DIR.lstrip("/")
    state.mkdir(parents=True)
    record = agent.failed_attempt(settings, str(state), DIGEST, {}, "recreate livekit failed (exit 1): injected")
    run = {"checked": "2026-12-07T10:00:03Z", "applied_digest": "a" * 64, "digest": DIGEST, "attempts": record, "next_try": record["next_try"],
           "last_change": {"digest": "a" * 64, "applied": "2026-12-06T03:00:41", "attempts": 1, "services": ["compose", "socket"]}}
    agent.finish(settings, str(state), run, "error", "bundle 3f2a9c1e0b7d failed (attempt 1): injected", 1)
    # A change held for its quiet hour (a newer bundle), and a readiness check with one certificate.
    agent.held({"apply_at": "03:00"}, "b" * 64, str(state), False, 60)
    (state / "ready.json").write_text(json.dumps({"checked": "2026-12-07T09:58:00", "problems": [],
                                                  "certificates": {"app.example.test": {"issuer": "Let's Encrypt", "not_after": "Dec 12 10:00:00 2026 GMT"}}}))
    return state


def test_status_json_prints_the_state_and_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    agent = _agent(tmp_path, monkeypatch)
    # No run yet: every state file is null, the disk is read, nothing is created (not even the state dir).
    before = _tree(tmp_path / "root")
    doc = _status_json(agent, capsys)
    assert {k: doc[k] for k in ("status", "attempts", "pending", "ready")} == dict.fromkeys(("status", "attempts", "pending", "ready"))
    assert _tree(tmp_path / "root") == before
    _failed_state(agent, tmp_path)
    before = _tree(tmp_path / "root")
    doc = _status_json(agent, capsys)
    assert _tree(tmp_path / "root") == before  # read-only: no file written, none touched
    assert doc["status"]["state"] == "error" and doc["status"]["last_change"]["services"] == ["compose", "socket"]
    assert doc["attempts"]["attempts"] == 1 and doc["attempts"]["next_try"] == "2026-12-07T10:02:00"
    assert doc["pending"] == {"digest": "b" * 64, "apply_at": "03:00", "until": "2026-12-08T03:00"}
    assert doc["ready"]["certificates"]["app.example.test"]["issuer"] == "Let's Encrypt"
    usage = shutil.disk_usage(tmp_path)
    d = doc["disk"]
    assert d["total"] == usage.total and 0 < d["used"] <= d["total"] and d["prune_above_pct"] == 70
    assert d["used_pct"] == pytest.approx(100 * d["used"] / d["total"], abs=0.1)
    assert doc["now"] == CLOCK + ":00"  # the server's clock (its seam here)


def test_the_terminal_view_says_state_attempts_next_try_pending_disk_and_certificates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    agent = _agent(tmp_path, monkeypatch)
    _failed_state(agent, tmp_path)
    doc = _status_json(agent, capsys)
    now = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.timezone.utc)
    text = "\n".join(agentssh.summary_lines(doc, "ubuntu@203.0.113.10", now))
    assert "  server:     ubuntu@203.0.113.10 over SSH; server clock 2026-12-07 10:00" in text
    assert "  agent:      error: bundle 3f2a9c1e0b7d failed (attempt 1): injected (checked 2026-12-07 10:00 UTC)" in text
    assert "  last change: bundle aaaaaaaaaaaa applied 2026-12-06 03:00 after 1 attempt(s); services compose, socket" in text
    assert ("  attempts:   1 failed for bundle 3f2a9c1e0b7d since 2026-12-07 10:00; next try 2026-12-07 10:02 (in 2 min); "
            "last error: recreate livekit failed (exit 1): injected") in text
    assert "  pending:    bundle bbbbbbbbbbbb waits for its apply_at 03:00 (server time): 2026-12-08 03:00 (in 17.0 h)" in text
    d = doc["disk"]
    assert f"  disk:       {d['used'] / 1e9:.1f} of {d['total'] / 1e9:.1f} GB used ({d['used_pct']}% vs the 70% share the agent prunes to)" in text
    assert "  certificate: app.example.test by Let's Encrypt, expires Dec 12 10:00:00 2026 GMT (5 days left)" in text
    assert "  readiness:  ready (checked 2026-12-07 09:58)" in text
    # A failed change is a problem (status exits 1); so is a disk over its share and a readiness problem.
    assert agentssh.problems(doc) == ["server agent: error: bundle 3f2a9c1e0b7d failed (attempt 1): injected"]
    over = {**doc, "disk": {**d, "used_pct": 91.0}, "status": {"state": "applied"}, "attempts": None, "ready": {"problems": ["caddy is unhealthy"]}}
    assert [p.split(":")[0] for p in agentssh.problems(over)] == ["server disk", "server readiness"]
    assert "; OVER the 70% share" in "\n".join(agentssh.summary_lines(over, "u@h", now))
    # A build's stderr in last_error may carry terminal escapes: shown escaped, one line each.
    hostile = {**doc, "attempts": {**doc["attempts"], "last_error": "boom\x1b[2J\nnext"}}
    assert "last error: boom\\x1b[2J\\nnext" in "\n".join(agentssh.summary_lines(hostile, "u@h", now))
    assert all("\x1b" not in r.detail for r in agentssh.doctor_rows(hostile, "u@h", now))
    healthy = {**doc, "status": {"state": "unchanged", "message": "bundle aaaaaaaaaaaa already applied"}, "attempts": None, "ready": {"problems": []}}
    assert agentssh.problems(healthy) == []


def test_doctor_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    agent = _agent(tmp_path, monkeypatch)
    _failed_state(agent, tmp_path)
    doc = _status_json(agent, capsys)
    now = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.timezone.utc)
    rows = {r.check: r for r in agentssh.doctor_rows(doc, "root@h", now)}
    assert rows["server agent"].status == "FAIL" and "error via root@h" in rows["server agent"].detail
    assert rows["server disk"].status == "PASS"
    cert = rows["server certificate app.example.test"]
    assert cert.status == "WARN" and "(5 days left)" in cert.detail and "docker logs caddy" in cert.fix  # under 14 days
    backoff = {**doc, "status": {**doc["status"], "state": "backoff"}}
    assert agentssh.doctor_rows(backoff, "root@h", now)[0].status == "WARN"
    fine = {**doc, "status": {"state": "unchanged", "message": "ok"}, "attempts": None, "disk": {**doc["disk"], "used_pct": 80.0}}
    rows2 = agentssh.doctor_rows(fine, "root@h", now)
    assert [r.status for r in rows2[:2]] == ["PASS", "WARN"]


@pytest.mark.parametrize(("text", "default", "expected"), [
    ("203.0.113.10", None, ("ubuntu", "203.0.113.10")),
    ("root@10.0.0.10", None, ("root", "10.0.0.10")),
    ("opc@", "203.0.113.7", ("opc", "203.0.113.7")),
    ("", "203.0.113.7", ("ubuntu", "203.0.113.7")),
    ("ubuntu@fd00::1", None, ("ubuntu", "fd00::1")),
])
def test_destinations(text: str, default: str | None, expected: tuple[str, str]) -> None:
    assert agentssh.parse_dest(text, default) == expected


@pytest.mark.parametrize("text", ["-oProxyCommand=touch /tmp/x", "root@-p22", "a b@host", "ubuntu@host name", "root@", "", "x;y@h"])
def test_bad_destinations_are_one_error(text: str) -> None:
    with pytest.raises(InvalidOption) as exc:
        agentssh.parse_dest(text)
    assert str(exc.value).startswith("--ssh: got ") and "expected" in str(exc.value)


def test_the_ssh_command_line() -> None:
    t = SshRequest("203.0.113.10", port=2222, identity="/k", options=("StrictHostKeyChecking=yes",)).target()
    argv = t.argv()
    assert argv[:5] == ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]  # the user's -o before the defaults
    assert argv.index("StrictHostKeyChecking=yes") < argv.index("StrictHostKeyChecking=accept-new")
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-i") + 1] == "/k" and "IdentitiesOnly=yes" in argv
    assert argv[-3:] == ["--", "ubuntu@203.0.113.10", "sudo -n /usr/local/sbin/flowstack-agent --status-json"]
    assert SshTarget("root", "h").argv()[-1] == "/usr/local/sbin/flowstack-agent --status-json"  # root: no sudo
    with pytest.raises(InvalidOption, match="--ssh-option: got '-oProxyCommand=x'"):
        SshRequest("h", options=("-oProxyCommand=x",)).target()


@pytest.mark.parametrize(("code", "stderr", "check"), [
    (255, "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.", "ssh-keygen -R h"),
    (255, "ubuntu@h: Permission denied (publickey).", "pass -i with the private key of the config's ssh_public_key"),
    (255, "ssh: connect to host h port 22: Connection timed out", "ssh_source_cidr"),
    (255, "ssh: Could not resolve hostname h: Name or service not known", "public IP"),
    (1, "sudo: a password is required", "cannot run sudo without a password"),
    (1, "sudo: /usr/local/sbin/flowstack-agent: command not found", "is not on the server"),
    (127, "bash: line 1: /usr/local/sbin/flowstack-agent: No such file or directory", "is not on the server"),
    (126, "bash: line 1: /usr/local/sbin/flowstack-agent: Permission denied", "is not on the server"),
    (2, "flowstack-agent: cannot read /etc/flowstack/agent.json", "/var/log/flowstack-agent.log"),
])
def test_each_failure_says_what_to_check(code: int, stderr: str, check: str) -> None:
    said, what = agentssh.explain(code, stderr, SshTarget("ubuntu", "h"))
    assert check in what and "\n" not in said + what


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once closed


NO_KNOWN_HOSTS = ("UserKnownHostsFile=/dev/null", "GlobalKnownHostsFile=/dev/null")


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH's client is not installed (tools/ensure-system-deps.sh installs it)")
def test_a_refused_login_is_one_problem_in_status(tmp_path: Path) -> None:
    """The real ssh client against a loopback port where nothing listens: status keeps the rest
    of its report and lists one problem naming the host and what to check."""
    port = _closed_port()
    report: dict[str, Any] = {"instance": {"public_ip": "127.0.0.1"}, "problems": []}
    status.server_into(report, SshRequest("root@", port=port, options=NO_KNOWN_HOSTS))
    assert report["server"]["ssh"] == "root@127.0.0.1" and len(report["problems"]) == 1
    problem = report["problems"][0]
    assert problem.startswith(f"ssh root@127.0.0.1 port {port}: ") and "Connection refused" in problem
    assert f"nothing accepts SSH on 127.0.0.1:{port}" in problem
    # No instance IP and no host: the problem says to name one.
    bare: dict[str, Any] = {"instance": None, "problems": []}
    status.server_into(bare, SshRequest(""))
    assert bare["server"] is None and "no instance IP was found" in bare["problems"][0]
    # doctor: one FAIL row with the fix.
    rows = doctor.server_rows(SshRequest("root@127.0.0.1", port=port, options=NO_KNOWN_HOSTS), None)
    assert [(r.check, r.status) for r in rows] == [("server agent", "FAIL")] and "nothing accepts SSH" in rows[0].fix


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH's client is not installed (tools/ensure-system-deps.sh installs it)")
def test_status_server_only_exits_6_with_one_error_line(root: Path) -> None:
    port = _closed_port()
    argv = ["status", str(root / "stacks" / "flowspace.yaml"), "--server-only", "--ssh", "root@127.0.0.1", "--ssh-port", str(port),
            "-o", NO_KNOWN_HOSTS[0], "-o", NO_KNOWN_HOSTS[1]]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 6, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: ssh root@127.0.0.1 port {port}: ") and "Traceback" not in r.output
    assert "is the instance running" in lines[0]


@pytest.mark.parametrize(("args", "needle"), [
    (["--ssh-port", "22"], "go with --ssh"),
    (["--server-only"], "--server-only needs --ssh"),
    (["--server-only", "--ssh"], "--server-only needs --ssh"),
    (["--server-only", "--ssh", "root@bad host"], "--ssh: got 'root@bad host'"),
    (["--ssh", "h", "--ssh-port", "70000"], "70000"),
])
def test_bad_ssh_options(root: Path, args: list[str], needle: str) -> None:
    r = CliRunner().invoke(cli, ["status", str(root / "stacks" / "flowspace.yaml"), *args])
    assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output, r.output
    assert os.path.exists(root / "stacks" / "flowspace.yaml")
