"""rm-apply / rm-plan check what they can locally before sending anything (issue 22, item 3).

* ``--var ssh_public_key`` must be exactly one OpenSSH public key line (on f81956f an empty
  value from ``$(cat missing.pub)`` or ``hello`` was sent to Resource Manager as is);
* every cost and free-tier warning `zip`/`validate` print is printed before the plan (on
  f81956f a 3-OCPU config deployed with no word about the Always Free limit).

The end-to-end cases run the real oci SDK against the project's Resource Manager emulator
(it replaces OCI, which cannot be reached from a test).
"""

from __future__ import annotations

import base64
import struct
import subprocess
from pathlib import Path

import pytest

from generator.deploy.sshkey import check_ssh_public_key
from generator.core.errors import InvalidVariable

SAMPLE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh me@host"


def blob(kind: str, body: bytes = b"\x00" * 32) -> str:
    return base64.b64encode(struct.pack(">I", len(kind)) + kind.encode() + struct.pack(">I", len(body)) + body).decode()


def test_real_ssh_keygen_keys_pass(tmp_path: Path) -> None:
    """Keys made by the real ssh-keygen of each type Ubuntu's sshd accepts by default."""
    for kind, extra in (("ed25519", []), ("rsa", ["-b", "2048"]), ("ecdsa", ["-b", "256"])):
        key = tmp_path / kind
        subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", "me@laptop", "-f", str(key)], check=True)
        text = key.with_suffix(".pub").read_text().rstrip("\n")  # as "$(cat key.pub)" gives it
        assert check_ssh_public_key(text).startswith(("ssh-", "ecdsa-"))
        with pytest.raises(InvalidVariable, match="ends with a line break"):  # the one rule (inputguard) refuses it
            check_ssh_public_key(text + "\n")
        assert check_ssh_public_key(" ".join(text.split()[:2]))             # without the comment
        with pytest.raises(InvalidVariable, match="PRIVATE key") as exc:
            check_ssh_public_key(key.read_text())
        assert key.read_text().splitlines()[1] not in str(exc.value)       # never repeated


@pytest.mark.parametrize("value, says", [
    ("", "empty (did `cat` find the file?)"),
    ("   \n", "empty"),
    ("hello", "is not an OpenSSH public key line"),
    ("ssh-ed25519", "is not an OpenSSH public key line"),
    ("ssh-ed25519 not*base64", "is not an OpenSSH public key line"),
    (f"ssh-rsa {blob('ssh-ed25519')} mixed", "says ssh-rsa but its key part is not an ssh-rsa key"),
    (f"ssh-dss {blob('ssh-dss')}", "is a DSA key, which OpenSSH no longer accepts"),
    (f'from="10.0.0.1" {SAMPLE}', "is not an OpenSSH public key line"),
    (f"{SAMPLE}\n{SAMPLE}", "holds more than one line"),
    (f"ssh-ed25519 {base64.b64encode(struct.pack('>I', 11) + b'ssh-ed25519').decode()}", "is not an ssh-ed25519 key"),
])
def test_anything_but_one_public_key_line_is_refused(value: str, says: str) -> None:
    with pytest.raises(InvalidVariable) as exc:
        check_ssh_public_key(value)
    message = str(exc.value)
    assert message.startswith("--var ssh_public_key=") and says in message, message
    assert "nothing was sent" in message and "\n" not in message


def test_the_sample_and_other_types_pass() -> None:
    assert check_ssh_public_key(SAMPLE) == "ssh-ed25519"
    for kind in ("ecdsa-sha2-nistp384", "sk-ssh-ed25519@openssh.com"):
        assert check_ssh_public_key(f"{kind} {blob(kind)}") == kind


@pytest.mark.slow
@pytest.mark.parametrize("value", ["", "hello", "ssh-ed25519 AAAA"])
def test_rm_apply_refuses_a_bad_key_before_any_request(rm_cli, value: str) -> None:
    rm_cli.emulator.reset_stats()
    result = rm_cli("rm-apply", "--auto-approve", "--var", f"ssh_public_key={value}",
                    "--var", "ssh_source_cidr=203.0.113.7/32", "--var", "socket_git_url=https://github.com/o/a.git")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: --var ssh_public_key=") and result.stderr.count("\n") == 1
    assert rm_cli.emulator.stats()["total"] == 0


@pytest.mark.slow
def test_rm_plan_prints_the_free_tier_warning_before_the_plan(rm_cli, rm_config) -> None:
    big = rm_config(replace={"ocpus: 2\n": "ocpus: 3\n", "memory_gbs: 12": "memory_gbs: 18"})
    result = rm_cli("rm-plan", config=big, first_run=True)
    assert result.exit_code == 0, result.output
    err = result.stderr
    warning = "Warning: always free: reported, not verified: 3 OCPU > 2, 18 GB > 12 GB"
    assert warning in err and "cost about $" in err
    assert err.index(warning) < err.index("Created stack flowspace")
    # The same warnings `validate` gives, all of them.
    from click.testing import CliRunner

    from generator.cli import cli
    zipped = CliRunner().invoke(cli, ["zip", str(big), "-o", str(big.with_suffix(".zip"))])
    expected = [line for line in zipped.stderr.splitlines() if line.startswith("Warning:")]
    assert expected and [line for line in err.splitlines() if line.startswith("Warning:")] == expected
    # A config inside the free limits gets no free-tier warning.
    small = rm_cli("rm-plan")
    assert small.exit_code == 0 and "always free" not in small.stderr
