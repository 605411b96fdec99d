"""socket.image from a private registry, and the token's credential file (issue 22, items 1a and 1c).

* the stack of an image config declares socket_registry_username / socket_registry_password,
  both sensitive with an empty default (a public image needs neither);
* the HCL that turns them into Docker's client config (and the git token into git's
  credential format) is evaluated by the real Terraform (`terraform console`, no provider);
* the shipped agent merges the bundle's login into root's Docker config (0600), keeping
  other registries' entries, and logs nothing of it.

Replaced: a registry that pulls (none runs here); what Docker reads is its documented
client-config format, {"auths": {host: {"auth": base64("user:password")}}}.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
from agent_support import agent_text
from variants import make_config

from generator.derive.model import TEMPLATE_EXPRESSIONS, build_model
from generator.tfdouble.binary import find_terraform

IMAGE = "ap-chuncheon-1.ocir.io/axaxnpcrorw5/flowspace-socket:1.2.3"


def test_an_image_stack_asks_for_sensitive_registry_credentials() -> None:
    variables = {v.name: v for v in build_model(make_config({"socket": {"git": None, "image": IMAGE}})).variables}
    for name in ("socket_registry_username", "socket_registry_password"):
        v = variables[name]
        assert v.sensitive and v.has_default and v.default == "" and v.group == "secrets"
        assert all(rule.local("ns/me" if "user" in name else "Tok3n.x") for rule in v.validations)
        assert not all(rule.local("has space") for rule in v.validations)  # the rule can refuse
    git = {v.name: v for v in build_model(make_config({})).variables}
    assert git["socket_git_token"].sensitive and git["socket_git_token"].default == ""
    assert "socket_registry_password" not in git


def _console(tmp_path: Path, expression: str, **values: str) -> str:
    (tmp_path / "main.tf").write_text("".join(f'variable "{k}" {{ type = string }}\n' for k in values))
    args = [str(find_terraform().path), "console", *[a for k, v in values.items() for a in ("-var", f"{k}={v}")]]
    out = subprocess.run(args, cwd=tmp_path, input=f"jsonencode(base64decode({expression}))", capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TF_CLI_CONFIG_FILE": "/dev/null"}).stdout
    return json.loads(json.loads(out))  # console prints the JSON text as an HCL string


@pytest.mark.slow
def test_terraform_builds_dockers_and_gits_credential_formats(tmp_path: Path) -> None:
    expr = TEMPLATE_EXPRESSIONS["socket_registry_auth_b64"]
    ocir = json.loads(_console(tmp_path, expr, socket_image=IMAGE, socket_registry_username="ns/me", socket_registry_password="Tok3n"))
    assert ocir == {"auths": {"ap-chuncheon-1.ocir.io": {"auth": base64.b64encode(b"ns/me:Tok3n").decode()}}}
    hub = json.loads(_console(tmp_path, expr, socket_image="you/app:1", socket_registry_username="me", socket_registry_password="pw"))
    assert list(hub["auths"]) == ["https://index.docker.io/v1/"]
    public = json.loads(_console(tmp_path, expr, socket_image="you/app:1", socket_registry_username="", socket_registry_password=""))
    assert public == {"auths": {}}
    git = _console(tmp_path, TEMPLATE_EXPRESSIONS["socket_git_credentials_b64"], socket_git_token="ghp_abc")
    assert git == "username=x-access-token\npassword=ghp_abc\n"


def _agent(root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FLOWSTACK_ROOT", str(root))
    path = root.parent / "agent_under_test.py"
    path.write_text(agent_text())
    spec = importlib.util.spec_from_file_location("agent_registry_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_agent_merges_the_login_into_roots_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    agent = _agent(root, monkeypatch)
    from generator.emit.agent import agent_settings

    settings = agent_settings()
    src = root / settings["registry_auth_file"].lstrip("/")
    src.parent.mkdir(parents=True)
    login = {"auths": {"ap-chuncheon-1.ocir.io": {"auth": base64.b64encode(b"ns/me:S3cretTok").decode()}}}
    src.write_text(json.dumps(login))
    target = root / settings["docker_client_config"].lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "b3RoZXI6b25l"}}, "credsStore": ""}))
    agent.install_registry_auth(settings, [])  # the bundle's file did not change: nothing to do
    assert "ocir" not in target.read_text()
    agent.install_registry_auth(settings, [settings["registry_auth_file"]])
    merged = json.loads(target.read_text())
    assert merged["auths"]["ghcr.io"] == {"auth": "b3RoZXI6b25l"} and merged["auths"]["ap-chuncheon-1.ocir.io"] == login["auths"]["ap-chuncheon-1.ocir.io"]
    assert target.stat().st_mode & 0o777 == 0o600 and target.parent.stat().st_mode & 0o077 == 0
