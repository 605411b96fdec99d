"""Issue 13 item 3: every `validation` rule holds for any spelling, and `--var` is checked
locally against the same rules before anything is sent.

`model.Validation.local` (Python, what rm-apply checks before uploading) and the HCL
`condition` (what Terraform evaluates) must agree on every value: real Terraform evaluates
all the conditions in one plan (each as an output, with ``var.x`` replaced by the value as
Resource Manager passes it: a string, converted with ``tonumber`` for number variables).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config.load import parse_config
from generator.core.errors import InvalidVariable
from generator.core.hcl import hcl_string
from generator.deploy.variables import VariableSpec
from generator.derive.model import build_model
from generator.tfdouble.runner import TerraformRun

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (ROOT / "stacks" / "flowspace.yaml").read_text(encoding="utf-8")

CIDRS = ["0.0.0.0/0", "0.0.0.0/00", "0.0.0.0/000", "0.0.0.0/1", "0.0.0.0/7", "10.0.0.0/8", "10.0.0.0/08", "1.2.3.4/32",
         "1.2.3.4/33", "::/0", "::/00", "2001:db8::/32", "1.2.3.4", "1.2.3.4/32\n", " 1.2.3.4/32", "256.1.1.1/32",
         "1.2.3.4/9", "198.51.100.7/32", "100.64.0.0/10", "0.0.0.0/8"]
VALUES: dict[str, list[str]] = {
    "ssh_source_cidr": CIDRS,
    "instance_ocpus": ["4", "4.0", "8", "4.5", "1e1", "0", "-1", "3.999"],
    "instance_memory_gbs": ["24", "24.0", "25", "48", "1e1"],
    "boot_volume_gbs": ["47", "46.9", "200", "0"],
    "availability_domain_number": ["1", "3", "0", "4", "2.5"],
    "socket_host": ["a.example.com", "Bad Host", "UPPER.example.com", "x", "a..b.com", "a.example.com\n", "-a.example.com"],
    "livekit_host": ["space-livekit.flow-coder.com", "a_b.example.com", "é.example.com"],
    "livekit_api_key": ["APIFlowspace", "ab", "a" * 64, "a" * 65, "key-with-dash", "key\n"],
    "socket_git_url": ["https://github.com/a/b.git", "http://github.com/a/b.git", "https://x/${y}", "https://a b", "https://a\n",
                       "https://bob:tok@github.com/a/b.git", "https://tok@github.com/a/b.git", "https://github.com@evil.example/a",
                       "https://github.com/a/b@v1.git", "https://github.com", "https://github.com:443/a/b.git",
                       "git@github.com:a/b.git", "ssh://git@github.com/a/b.git"],  # the deploy-key route is off here: refused
    "socket_git_ref": ["main", "v1.0", "feature/x", "a b", "a;b", "main\n"],
    # Issue 23: the one ssh key rule (inputguard); where Terraform's regex cannot look (the base64
    # blob, a second key in the comment) the local check is stricter: tests/deploy/test_var_hostile.py.
    "ssh_public_key": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh you@laptop", "hello",
                       "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh",
                       "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh\n",
                       "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh a\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh b",
                       "ssh-dss AAAAB3NzaC1kc3M= x", "", " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh"],
    # Issue 15: the quiet hour the agent waits for (HH:MM or empty).
    "server_apply_at": ["", "03:00", "23:59", "00:00", "24:00", "3:00", "03:60", "03:00\n", " 03:00", "0300", "12:5"],
}


def _key_b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


_OPENSSH_BODY = base64.b64encode(b"openssh-key-v1\0\0\0\0\x04none\0\0\0\x04none").decode()
_ENCRYPTED_BODY = base64.b64encode(b"openssh-key-v1\0\0\0\0\x0aaes256-ctr\0\0\0\x06bcrypt").decode()
# The deploy-key route on (issue 22 item 1b): the URL rule takes ssh too, and the deploy key's file rule.
SSH_CONFIG = CONFIG.replace("https://github.com/your-repo/flow_metaverse.git", "git@github.com:flow-coder/flow_metaverse.git")
SSH_VALUES: dict[str, list[str]] = {
    "socket_git_url": ["git@github.com:a/b.git", "ssh://git@github.com/a/b.git", "ssh://git@git.example.com:2222/srv/app.git",
                       "https://github.com/a/b.git", "git@github.com:-oProxyCommand=x", "-oProxyCommand=x@h:a", "git@-h:a/b",
                       "git@github.com:a/b.git;id", "ssh://git@github.com/a b", "git@github.com:a/b.git\n", "github.com:a/b.git"],
    "socket_git_ssh_key": ["", _key_b64(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{_OPENSSH_BODY}\n-----END OPENSSH PRIVATE KEY-----\n"),
                           _key_b64("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh a public key"),
                           "not base64!", _key_b64("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")],
}


def _cases() -> list[tuple[str, str, object, str]]:
    cases = []
    for text, table in ((CONFIG, VALUES), (SSH_CONFIG, SSH_VALUES)):
        variables = {v.name: v for v in build_model(parse_config(text, "flowspace.yaml"), dt.date(2026, 12, 1)).variables}
        for name, values in table.items():
            var = variables[name]
            for rule in var.validations:
                for value in values:
                    cases.append((name, var.type, rule, value))
    return cases


CASES = _cases()


@pytest.mark.slow
def test_local_rules_give_terraforms_verdict(tmp_path: Path) -> None:
    outputs = []
    for i, (name, kind, rule, value) in enumerate(CASES):
        literal = f"tonumber({hcl_string(value)})" if kind == "number" else hcl_string(value)
        expr = re.sub(rf"\bvar\.{name}\b", lambda _m, lit=literal: f"({lit})", rule.condition)
        outputs.append(f'output "c{i}" {{\n  value = try({expr}, "not-converted")\n}}\n')
    (tmp_path / "rules.tf").write_text("".join(outputs), encoding="utf-8")
    with TerraformRun(tmp_path, {}) as run:
        r = run.plan("rules.tfplan")
        assert r.ok, [str(d) for d in r.errors]
        got = {k: v["value"] for k, v in run.show("rules.tfplan")["planned_values"]["outputs"].items()}
    disagree = []
    for i, (name, _kind, rule, value) in enumerate(CASES):
        terraform = got[f"c{i}"]
        if terraform == "not-converted":
            continue  # Terraform's type conversion refuses it before any rule
        if rule.local(value) is not terraform:
            disagree.append((name, value, terraform))
    assert disagree == []
    assert any(got[f"c{i}"] is False for i in range(len(CASES)))  # the rules do refuse


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "0.0.0.0/00", "0.0.0.0/000", "::/00", "0.0.0.0/1", "0.0.0.0/7", "10.0.0.0/08"])
def test_too_wide_ssh_sources_are_refused_locally(cidr: str) -> None:
    config = parse_config(CONFIG, "flowspace.yaml")
    spec = VariableSpec.from_variables("flowspace", build_model(config).variables)
    with pytest.raises(InvalidVariable, match="ssh_source_cidr must be an IPv4 CIDR"):
        spec.check_rules({"ssh_source_cidr": cidr})
    spec.check_rules({"ssh_source_cidr": "10.0.0.0/8"})  # the bound itself is accepted


def test_secret_values_are_not_repeated_in_the_refusal() -> None:
    config = parse_config(CONFIG.replace("socket:\n", "socket:\n  secret_env: [API_KEY]\n", 1), "f.yaml")
    spec = VariableSpec.from_variables("flowspace", build_model(config).variables)
    with pytest.raises(InvalidVariable) as info:
        spec.check_rules({"socket_secret_api_key": "it's-a-secret"})
    assert "it's-a-secret" not in str(info.value) and "********" in str(info.value)


@pytest.mark.parametrize("url", ["https://bob:ghp_S3CRETTOKEN@github.com/o/app.git", "https://ghp_S3CRETTOKEN@github.com/o/app.git"])
def test_a_git_url_with_credentials_is_refused_and_not_shown(url: str, tmp_path: Path) -> None:
    """The stack's rule refuses a user:token@ (it would sit in the stack's variables in plain text);
    the refusal masks it. An @ after the host (a path) is still a URL."""
    config = parse_config(CONFIG, "flowspace.yaml")
    spec = VariableSpec.from_variables("flowspace", build_model(config).variables)
    spec.check_rules({"socket_git_url": "https://github.com/o/app@v1.git"})
    with pytest.raises(InvalidVariable, match="without user:token@"):
        spec.check_rules({"socket_git_url": url})
    r = CliRunner().invoke(cli, ["rm-apply", str(ROOT / "stacks" / "flowspace.yaml"), "--config-file", str(tmp_path / "none"),
                                 "--compartment", "ocid1.compartment.oc1..x", "--var", f"socket_git_url={url}"])
    assert r.exit_code == 2 and r.output.count("Error:") == 1, r.output
    assert "S3CRET" not in r.output and "--var socket_git_url=https://********@github.com/o/app.git: " in r.output, r.output


@pytest.mark.parametrize("var", ["instance_ocpus=8", "ssh_source_cidr=0.0.0.0/00", "socket_host=Bad Host"])
def test_rm_apply_refuses_a_bad_var_before_any_request(var: str, tmp_path: Path) -> None:
    """No emulator is started: the refusal comes before any OCI config is even read."""
    r = CliRunner().invoke(cli, ["rm-apply", str(ROOT / "stacks" / "flowspace.yaml"), "--config-file", str(tmp_path / "none"),
                                 "--compartment", "ocid1.compartment.oc1..x", "--var", var])
    assert r.exit_code != 0
    assert "nothing was sent" in r.output and r.output.count("Error:") == 1, r.output


def test_a_passphrase_protected_deploy_key_is_refused_locally() -> None:
    """Terraform's regex sees only the header; the local check also opens the OpenSSH body: the
    server cannot type a passphrase, so an encrypted key would only fail at the clone."""
    from generator.config.inputguard import ssh_private_key_b64_ok
    plain = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{_OPENSSH_BODY}\n-----END OPENSSH PRIVATE KEY-----\n"
    assert ssh_private_key_b64_ok(_key_b64(plain))
    assert not ssh_private_key_b64_ok(_key_b64(plain.replace(_OPENSSH_BODY, _ENCRYPTED_BODY)))
