"""The deploy-key route in the config and the stack (issue 22 item 1b): ssh URLs, pinned host keys.

Nothing is replaced: the config loader, the dated host-key data, the stack model and the bundle
as `generate` builds them. The published keys are checked against their published fingerprints
(recomputed here from the key lines, as OpenSSH computes them).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from test_config_guards import merged, refused

from generator.config.load import parse_config
from generator.core.contract import GIT_KNOWN_HOSTS_FILE, GIT_SSH_CONFIG_FILE, GIT_SSH_KEY_FILE
from generator.core.errors import InvalidVariable
from generator.core.gitssh import git_ssh_config, host_keys, pinned_known_hosts, ssh_url_host, unverified_hosts
from generator.deploy.variables import VariableSpec
from generator.derive.model import build_model
from generator.emit.bundle import server_bundle

SELF_HOSTED = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def _git(**git: Any) -> dict[str, Any]:
    return {"socket": {"git": git}}


def test_the_pinned_keys_are_dated_sourced_and_match_their_published_fingerprints() -> None:
    data = host_keys()
    assert dt.date.fromisoformat(str(data["checked"])) <= dt.date.today()
    assert set(data["hosts"]) == {"github.com", "gitlab.com"}
    for host, entry in data["hosts"].items():
        kind, blob = entry["key"].split()
        assert kind == "ssh-ed25519" and entry["sources"], host
        digest = base64.b64encode(hashlib.sha256(base64.b64decode(blob)).digest()).decode().rstrip("=")
        assert entry["fingerprint"] == f"SHA256:{digest}", host
    assert unverified_hosts() == []  # both checked against the hosts' docs (data file comments)
    assert pinned_known_hosts().splitlines() == [f"{h} {e['key']}" for h, e in data["hosts"].items()]


@pytest.mark.parametrize("url, host", [
    ("git@github.com:flow-coder/app.git", "github.com"), ("ssh://git@gitlab.com/group/app.git", "gitlab.com"),
    ("ssh://git@git.example.com:2222/srv/app.git", "[git.example.com]:2222"), ("ssh://git@git.example.com:22/a.git", "git.example.com"),
    ("https://github.com/a/b.git", None), ("git@github.com:-oProxyCommand=x", None), ("git@github.com:a b", None)])
def test_the_host_an_ssh_url_names(url: str, host: str | None) -> None:
    assert ssh_url_host(url) == host


def test_an_ssh_url_turns_the_route_on_and_the_stack_asks_for_the_key() -> None:
    config = parse_config(merged(_git(url="git@github.com:flow-coder/app.git")), "c.yaml")
    assert config.socket.git is not None and config.socket.git.ssh
    variables = {v.name: v for v in build_model(config).variables}
    key = variables["socket_git_ssh_key"]
    assert key.sensitive and key.secret and key.default == "" and key.form_type == "file"
    files = {f.path: f for f in server_bundle(config)}
    assert files[GIT_SSH_KEY_FILE].mode == "0600" and files[GIT_SSH_KEY_FILE].placeholders == ["socket_git_ssh_key_b64"]
    assert files[GIT_KNOWN_HOSTS_FILE].raw == pinned_known_hosts()
    assert files[GIT_SSH_CONFIG_FILE].raw == git_ssh_config()
    for option in ("StrictHostKeyChecking yes", "IdentitiesOnly yes", "BatchMode yes", "GlobalKnownHostsFile /dev/null",
                   f"UserKnownHostsFile ${{FLOWSTACK_ROOT}}{GIT_KNOWN_HOSTS_FILE}", f"IdentityFile ${{FLOWSTACK_ROOT}}{GIT_SSH_KEY_FILE}"):
        assert f"\n{option}\n" in git_ssh_config()


def test_an_https_stack_carries_no_key_no_pins_and_refuses_an_ssh_url_at_deploy_time() -> None:
    config = parse_config(merged(_git(url="https://github.com/flow-coder/app.git")), "c.yaml")
    assert config.socket.git is not None and not config.socket.git.ssh
    model = build_model(config)
    assert "socket_git_ssh_key" not in {v.name for v in model.variables}
    assert not {GIT_SSH_KEY_FILE, GIT_KNOWN_HOSTS_FILE, GIT_SSH_CONFIG_FILE} & {f.path for f in server_bundle(config)}
    spec = VariableSpec.from_variables(config.name, model.variables)
    with pytest.raises(InvalidVariable) as info:
        spec.check_rules({"socket_git_url": "git@github.com:flow-coder/app.git"})
    assert "socket.git.deploy_key: true" in str(info.value) and "flowstack deploy-key" in str(info.value)
    # deploy_key: true without a URL: the deploy-time URL may be ssh.
    on = parse_config(merged(_git(url=None, deploy_key=True)), "c.yaml")
    VariableSpec.from_variables(on.name, build_model(on).variables).check_rules({"socket_git_url": "git@gitlab.com:g/app.git"})


def test_a_self_hosted_server_needs_its_own_pinned_line() -> None:
    refused(_git(url="ssh://git@git.example.com/srv/app.git"), "socket.git.url", "no pinned host key for git.example.com",
            "socket.git.known_hosts", "ssh-keyscan -t ed25519 git.example.com")
    config = parse_config(merged(_git(url="ssh://git@git.example.com/srv/app.git", known_hosts=[SELF_HOSTED])), "c.yaml")
    assert pinned_known_hosts(config.socket.git.known_hosts if config.socket.git else []).endswith(SELF_HOSTED + "\n")
    refused(_git(url="ssh://git@git.example.com:2222/srv/app.git", known_hosts=[SELF_HOSTED]), "[git.example.com]:2222")


@pytest.mark.parametrize("line, needle", [
    ("git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GK", "its key has a key part"),
    ("git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl comment", "not one known_hosts line"),
    ("|1|abc=|def= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", "not one known_hosts line"),
    ("git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\nx y z", "not one known_hosts line")])
def test_a_bad_known_hosts_line_is_refused(line: str, needle: str) -> None:
    refused(_git(url="ssh://git@git.example.com/srv/app.git", known_hosts=[line]), "socket.git.known_hosts", needle)


def test_route_switches_that_contradict_are_refused() -> None:
    refused(_git(url="git@github.com:a/b.git", deploy_key=False), "needs the deploy-key route", "flowstack deploy-key")
    refused(_git(url="https://github.com/a/b.git", known_hosts=[SELF_HOSTED]), "known_hosts is for the deploy-key route")


def test_a_private_key_in_the_config_is_refused_and_not_shown() -> None:
    body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"
    msg = refused({"description": f"key {body}"}, "an OpenSSH private key")
    assert body not in msg


def test_var_at_file_reads_a_file_field_as_base64(tmp_path: Path) -> None:
    config = parse_config(merged(_git(url="git@github.com:flow-coder/app.git")), "c.yaml")
    spec = VariableSpec.from_variables(config.name, build_model(config).variables)
    key = tmp_path / "id_ed25519"
    key.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
    out = spec.read_files({"socket_git_ssh_key": f"@{key}", "socket_git_ref": "@main"})
    assert base64.b64decode(out["socket_git_ssh_key"]) == key.read_bytes()
    assert out["socket_git_ref"] == "@main"  # not a file field: taken as written
    with pytest.raises(InvalidVariable) as info:
        spec.read_files({"socket_git_ssh_key": f"@{tmp_path / 'missing'}"})
    assert "cannot read the file" in str(info.value) and json.dumps(str(tmp_path))[1:-1] in str(info.value)


def test_an_unverified_pinned_key_is_said_in_the_stack_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.checks import notes
    from generator.checks.stack import Stack
    from generator.emit.render import render_stack

    stack = Stack(render_stack(parse_config(merged(_git(url="git@github.com:flow-coder/app.git")), "c.yaml")))
    assert not any("pinned ssh host key" in n for n in notes.check_notes(stack).problems)
    data = host_keys()
    changed = {**data, "hosts": {**data["hosts"], "gitlab.com": {**data["hosts"]["gitlab.com"], "verified": False}}}
    monkeypatch.setattr(notes, "unverified_hosts", lambda: [h for h, e in changed["hosts"].items() if not e["verified"]])
    said = [n for n in notes.check_notes(stack).problems if "pinned ssh host key" in n]
    assert len(said) == 1 and "gitlab.com" in said[0] and "unverified" in said[0]
    https = Stack(render_stack(parse_config(merged(_git(url="https://github.com/flow-coder/app.git")), "c.yaml")))
    assert not any("pinned ssh host key" in n for n in notes.check_notes(https).problems)  # no route, no pins, no note
