"""Issue 23.6: every ``--var`` value with a rule is checked locally, and every error stays on one line.

* ssh_public_key had no rule: ``hello`` or two keys were sent to Resource Manager. The one rule
  (`inputguard.ssh_public_key_problem`, used by the stack's validation and by rm-*) wants exactly
  one OpenSSH public key line; keys made here with the `cryptography` package (ed25519, RSA,
  ECDSA, as `ssh-keygen` writes them) are the nearest accepted input beside each refusal.
* the TLS origin PEM variables had a Terraform rule but no local one.
* a line break in a value gave a two-line error; one in a name was silently stripped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from generator.cli import cli
from generator.config.load import parse_config
from generator.deploy.variables import VariableSpec, parse_variables
from generator.core.errors import InvalidVariable, ResourceManagerError, UnknownVariable
from generator.config.inputguard import pem_b64_ok, ssh_public_key_problem
from generator.derive.model import build_model

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (ROOT / "stacks" / "flowspace.yaml").read_text(encoding="utf-8")


def _openssh(key: object, comment: str = "you@laptop") -> str:
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)  # type: ignore[attr-defined]
    return f"{line.decode()} {comment}"


KEYS = {
    "ed25519": _openssh(ed25519.Ed25519PrivateKey.generate()),
    "rsa": _openssh(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "ecdsa": _openssh(ec.generate_private_key(ec.SECP256R1())),
}
K = KEYS["ed25519"]
TYPE, BLOB, _ = K.split(" ", 2)

# (bad value, what the problem says, the nearest accepted value)
BAD_KEYS = {
    "word": ("hello", "not an OpenSSH public key line", K),
    "two-keys-one-line": (f"{K} {KEYS['rsa']}", "more than one key", K),
    "two-lines": (f"{K}\n{KEYS['rsa']}", "more than one line", K),
    "trailing-newline": (f"{K}\n", "ends with a line break", K),
    "crlf": (f"{K}\r", "more than one line", K),
    "dsa": ("ssh-dss AAAAB3NzaC1kc3MAAACBAP x", "DSA key", K),
    "private-key": ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key", K),
    "cut-blob": (f"{TYPE} {BLOB[:40]} c", "cut short", K),
    "type-mismatch": (f"ssh-rsa {BLOB} c", "is not an ssh-rsa key", KEYS["rsa"]),
    "leading-space": (f" {K}", "not an OpenSSH public key line", K),
    "no-base64": (f"{TYPE} AAAA!!!! c", "not an OpenSSH public key line", K),
    "control-in-comment": (f"{TYPE} {BLOB} me\x1b[2J", "not an OpenSSH public key line", f"{TYPE} {BLOB} me"),
    "empty": ("", "not an OpenSSH public key line", K),
}


def _spec() -> VariableSpec:
    return VariableSpec.from_variables("flowspace", build_model(parse_config(CONFIG, "flowspace.yaml")).variables)


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_real_keys_are_accepted(kind: str) -> None:
    assert ssh_public_key_problem(KEYS[kind]) is None
    assert ssh_public_key_problem(KEYS[kind].rsplit(" ", 1)[0]) is None  # no comment
    _spec().check_rules({"ssh_public_key": KEYS[kind]})


@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_bad_keys_are_refused_beside_the_nearest_accepted(case: str) -> None:
    bad, problem, good = BAD_KEYS[case]
    assert problem in (ssh_public_key_problem(bad) or ""), ssh_public_key_problem(bad)
    with pytest.raises(InvalidVariable) as info:
        _spec().check_rules({"ssh_public_key": bad})
    assert "\n" not in str(info.value) and "\r" not in str(info.value) and "\x1b" not in str(info.value)
    assert "exactly one OpenSSH public key line" in str(info.value)
    assert ssh_public_key_problem(good) is None
    _spec().check_rules({"ssh_public_key": good})


@pytest.mark.parametrize("case", ["word", "two-lines", "two-keys-one-line"])
def test_rm_apply_refuses_the_key_before_any_request(case: str, tmp_path: Path) -> None:
    """No emulator: the refusal comes before the OCI config file (which does not exist) is read."""
    r = CliRunner().invoke(cli, ["rm-apply", str(ROOT / "stacks" / "flowspace.yaml"), "--config-file", str(tmp_path / "none"),
                                 "--compartment", "ocid1.compartment.oc1..x", "--var", f"ssh_public_key={BAD_KEYS[case][0]}"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and r.output.startswith("Error: --var ssh_public_key="), r.output
    assert "nothing was sent" in r.output


@pytest.mark.parametrize(("value", "ok"), [
    ("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSQo=", True),  # "-----BEGIN CERTIFICATE-----\nMII\n"
    ("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1J\nSQo=", True),  # a line break inside the base64 (Go skips it)
    ("bm90IGEgcGVt", False), ("not base64!", False), ("", False), ("/w==", False),  # "not a pem"; bytes that are not UTF-8
])
def test_pem_variables_are_checked_locally(value: str, ok: bool) -> None:
    assert pem_b64_ok(value) is ok


# Names and values holding line breaks and control characters: every message stays one line.
HOSTILE = ["a\nb", "a\r\nb", "x\x1b[2Jy", "a\u2028b", "a\x85b", "a\x00b", "\n"]


@pytest.mark.parametrize("text", HOSTILE, ids=repr)
def test_a_name_with_a_line_break_is_refused_not_stripped(text: str) -> None:
    with pytest.raises(ResourceManagerError) as info:
        parse_variables([f"ssh_public_key{text}=v"])
    assert "\n" not in str(info.value) and "\r" not in str(info.value) and "\x1b" not in str(info.value), str(info.value)
    assert parse_variables(["ssh_public_key=v"]) == {"ssh_public_key": "v"}  # the nearest accepted


@pytest.mark.parametrize("text", HOSTILE, ids=repr)
def test_value_and_unknown_name_errors_stay_on_one_line(text: str) -> None:
    with pytest.raises(InvalidVariable) as info:
        _spec().check_rules({"socket_host": f"a.example.com{text}"})
    msg = str(info.value)
    assert not any(c in msg for c in "\n\r\x1b\x00\x85\u2028"), msg
    with pytest.raises(UnknownVariable) as unknown:
        _spec().check_names([f"nope{text}"])
    assert not any(c in str(unknown.value) for c in "\n\r\x1b\x00\x85\u2028")


@pytest.mark.parametrize("command", ["rm-plan", "preview", "validate"])
@pytest.mark.parametrize("text", ["a\nb", "x\x1b[2J"], ids=repr)
def test_cli_var_errors_are_one_error_line(command: str, text: str, tmp_path: Path) -> None:
    args = [command, str(ROOT / "stacks" / "flowspace.yaml"), "--var", f"ssh_public_key{text}=v"]
    args += ["--config-file", str(tmp_path / "none"), "--compartment", "ocid1.compartment.oc1..x"] if command == "rm-plan" else []
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2, r.output
    error_lines = [line for line in r.output.splitlines() if "Error" in line]
    assert len(error_lines) == 1 and "\x1b" not in r.output, r.output
    assert "is not a Terraform variable name" in error_lines[0], r.output
